#include "io/tensor_recipe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>

#include "core/error.h"

namespace websd {
namespace {

class TensorRecipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HostTensor m({6, 2});
    std::iota(m.data.begin(), m.data.end(), 0.0f);  // rows [0 1] [2 3] ... [10 11]
    write_safetensors(path_, {{"m", m}});
  }
  void TearDown() override { std::filesystem::remove(path_); }
  HostTensor read(TensorRecipe r) {
    SafetensorsFile f(path_);
    return read_recipe(f, r);
  }
  std::string path_ =
      (std::filesystem::temp_directory_path() / ("websd_recipe_" + std::to_string(getpid()) + ".safetensors")).string();
};

TEST_F(TensorRecipeTest, CopyReshapeRowsTranspose) {
  EXPECT_EQ(read(TensorRecipe::copy("m", {6, 2})).data, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  const HostTensor reshaped = read({"m", TensorRecipe::Op::kReshape, {3, 4}, 0});
  EXPECT_EQ(reshaped.shape, (Shape{3, 4}));
  EXPECT_EQ(reshaped.data[4], 4.0f);
  // The middle third, as a fused q/k/v matrix gives up k.
  const HostTensor rows = read({"m", TensorRecipe::Op::kRows, {2, 2}, 2});
  EXPECT_EQ(rows.data, (std::vector<float>{4, 5, 6, 7}));
  const HostTensor t = read({"m", TensorRecipe::Op::kTranspose, {2, 6}, 0});
  EXPECT_EQ(t.data, (std::vector<float>{0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11}));
}

TEST_F(TensorRecipeTest, ImpossibleRecipesNameTheTensor) {
  for (const TensorRecipe& r : {TensorRecipe{"m", TensorRecipe::Op::kReshape, {5, 2}, 0},
                                TensorRecipe{"m", TensorRecipe::Op::kRows, {2, 2}, 5},
                                TensorRecipe{"m", TensorRecipe::Op::kRows, {2, 3}, 0},
                                TensorRecipe{"m", TensorRecipe::Op::kTranspose, {6, 2}, 0}}) {
    try {
      read(r);
      ADD_FAILURE() << "no error for " << shape_str(r.shape);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tensor 'm' [6, 2]"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace websd
