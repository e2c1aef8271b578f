#include "backend/backend.h"

#include "core/error.h"

namespace websd {

Tensor Tensor::reshaped(Shape new_shape) const {
  if (websd::numel(new_shape) != numel())
    throw Error("cannot reshape " + shape_str(shape) + " to " + shape_str(new_shape));
  return Tensor{std::move(new_shape), buffer};
}

}  // namespace websd
