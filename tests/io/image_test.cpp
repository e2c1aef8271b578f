#include "io/image.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"

namespace websd {
namespace {

TEST(Image, RoundsLikeDiffusersAndRoundTripsThroughPng) {
  HostTensor img({2, 3, 3});
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<float>(i) / 17.0f;
  img.data[0] = -0.2f;  // clamped
  img.data[1] = 1.5f;   // clamped
  img.data[2] = 0.5f;   // 127.5 rounds to even → 128 (numpy's round)
  const std::vector<uint8_t> rgb = to_rgb8(img);
  EXPECT_EQ(rgb[0], 0);
  EXPECT_EQ(rgb[1], 255);
  EXPECT_EQ(rgb[2], 128);
  const std::string path = (std::filesystem::temp_directory_path() / "websd_image_test.png").string();
  write_png(path, img);
  const HostTensor back = read_png(path);
  ASSERT_EQ(back.shape, img.shape);
  for (size_t i = 0; i < rgb.size(); ++i) EXPECT_EQ(back.data[i], rgb[i] / 255.0f);
  std::filesystem::remove(path);
}

TEST(Image, Errors) {
  EXPECT_THROW(to_rgb8(HostTensor({2, 2})), Error);
  EXPECT_THROW(write_png("/nonexistent/dir/x.png", HostTensor({1, 1, 3})), Error);
  EXPECT_THROW(read_png("/nonexistent.png"), Error);
}

}  // namespace
}  // namespace websd
