#pragma once
#include <string>

#include "core/tensor.h"
#include "io/safetensors.h"

namespace websd {

// How one tensor a model loads is made from a tensor stored in a safetensors file. Diffusers
// folders store every tensor as it is used; single-file checkpoints (the original LDM layout)
// store a few differently: linear weights as 1×1 convolutions, OpenCLIP's q/k/v fused into one
// matrix, and its text projection transposed. Applying the recipe at load time lets such a file
// be read in place, with no converted copy on disk or in memory.
struct TensorRecipe {
  enum class Op {
    kCopy,       // the stored tensor
    kReshape,    // the same values in another shape (a [C, C, 1, 1] conv weight as a [C, C] linear)
    kRows,       // rows [first_row, first_row + shape[0]) along the first dimension
    kTranspose,  // a 2-D tensor transposed
  };
  std::string key;  // the stored tensor's name
  Op op = Op::kCopy;
  Shape shape;  // the result's shape
  int64_t first_row = 0;

  static TensorRecipe copy(const std::string& key, const Shape& shape) { return {key, Op::kCopy, shape, 0}; }
};

// Reads the stored tensor and applies the recipe; the result has recipe.shape.
HostTensor read_recipe(SafetensorsFile& file, const TensorRecipe& recipe);

}  // namespace websd
