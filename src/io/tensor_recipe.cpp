#include "io/tensor_recipe.h"

#include <algorithm>

#include "core/error.h"

namespace websd {

HostTensor read_recipe(SafetensorsFile& file, const TensorRecipe& recipe) {
  const Shape& stored = file.info(recipe.key).shape;
  const std::string where = file.path() + ": tensor '" + recipe.key + "' " + shape_str(stored);
  switch (recipe.op) {
    case TensorRecipe::Op::kCopy:
    case TensorRecipe::Op::kReshape: {
      if (numel(stored) != numel(recipe.shape)) throw Error(where + " cannot be read as " + shape_str(recipe.shape));
      HostTensor t = file.read(recipe.key);
      t.shape = recipe.shape;
      return t;
    }
    case TensorRecipe::Op::kRows: {
      const int64_t rows = recipe.shape.empty() ? 0 : recipe.shape[0];
      if (stored.empty() || recipe.first_row < 0 || recipe.first_row + rows > stored[0] ||
          !std::equal(stored.begin() + 1, stored.end(), recipe.shape.begin() + 1, recipe.shape.end()))
        throw Error(where + " has no rows [" + std::to_string(recipe.first_row) + ", " +
                    std::to_string(recipe.first_row + rows) + ") of shape " + shape_str(recipe.shape));
      const HostTensor all = file.read(recipe.key);
      const int64_t row_size = numel(recipe.shape) / std::max<int64_t>(rows, 1);
      const auto begin = all.data.begin() + recipe.first_row * row_size;
      return HostTensor(recipe.shape, std::vector<float>(begin, begin + rows * row_size));
    }
    case TensorRecipe::Op::kTranspose: {
      if (stored.size() != 2 || recipe.shape != Shape{stored[1], stored[0]})
        throw Error(where + " cannot be transposed to " + shape_str(recipe.shape));
      const HostTensor t = file.read(recipe.key);
      HostTensor out(recipe.shape);
      const int64_t rows = stored[0], cols = stored[1];
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          out.data[static_cast<size_t>(c * rows + r)] = t.data[static_cast<size_t>(r * cols + c)];
      return out;
    }
  }
  throw Error(where + ": unknown recipe");
}

}  // namespace websd
