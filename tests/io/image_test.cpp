#include "io/image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

// Text chunks sit after IHDR with valid CRCs (stb_image, which checks nothing of them, and a
// decoder that does, zlib-free: the CRC of every chunk is recomputed here), and read back.
TEST(Image, PngTextChunksRoundTrip) {
  HostTensor img({4, 5, 3});
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<float>(i % 7) / 6.0f;
  const PngText text = {{"parameters", "a cat\nSteps: 2, Sampler: Euler, CFG scale: 7"}, {"Comment", "café ☕"}};
  const std::vector<uint8_t> png = encode_png(img, text);
  EXPECT_EQ(read_png_text(png), text);
  EXPECT_EQ(std::string(png.begin() + 37, png.begin() + 41), "tEXt");  // after the signature and IHDR
  // Every chunk's CRC-32 (the standard polynomial, bit by bit).
  for (size_t at = 8; at < png.size();) {
    const uint32_t n = uint32_t{png[at]} << 24 | uint32_t{png[at + 1]} << 16 | uint32_t{png[at + 2]} << 8 | png[at + 3];
    uint32_t crc = 0xffffffffu;
    for (size_t i = at + 4; i < at + 8 + n; ++i) {
      crc ^= png[i];
      for (int b = 0; b < 8; ++b) crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    const size_t c = at + 8 + n;
    EXPECT_EQ(~crc, uint32_t{png[c]} << 24 | uint32_t{png[c + 1]} << 16 | uint32_t{png[c + 2]} << 8 | png[c + 3]) << at;
    at = c + 4;
  }
  const std::string path = (std::filesystem::temp_directory_path() / "websd_image_text_test.png").string();
  write_png(path, img, text);
  const HostTensor back = read_png(path);
  const std::vector<uint8_t> rgb = to_rgb8(img);
  for (size_t i = 0; i < rgb.size(); ++i) EXPECT_EQ(back.data[i], rgb[i] / 255.0f);
  std::filesystem::remove(path);
  EXPECT_TRUE(read_png_text(encode_png(img)).empty());
}

TEST(Image, Errors) {
  EXPECT_THROW(read_png_text({1, 2, 3}), Error);
  std::vector<uint8_t> cut = encode_png(HostTensor({1, 1, 3}), {{"k", "v"}});
  cut.resize(40);
  EXPECT_THROW(read_png_text(cut), Error);
  EXPECT_THROW(encode_png(HostTensor({1, 1, 3}), {{"", "v"}}), Error);
  EXPECT_THROW(to_rgb8(HostTensor({2, 2})), Error);
  EXPECT_THROW(write_png("/nonexistent/dir/x.png", HostTensor({1, 1, 3})), Error);
  EXPECT_THROW(read_png("/nonexistent.png"), Error);
}

// Found by tests/fuzz/png_fuzzer.cpp: stb_image allocates what a PNG declares before it reads the
// data, so a file of a few dozen bytes (an IDAT chunk longer than the file, or a million by a million
// pixels over a few bytes of image data) asked for gigabytes.
TEST(Image, RefusesPngsThatDeclareMoreThanTheyHold) {
  const std::vector<uint8_t> png = encode_png(HostTensor({2, 2, 3}));
  const std::string path = (std::filesystem::temp_directory_path() / "websd_image_sizes_test.png").string();
  const auto read_error = [&](const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    try {
      read_png(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string idat = "IDAT";
  std::vector<uint8_t> long_chunk = png;
  long_chunk[static_cast<size_t>(std::search(png.begin(), png.end(), idat.begin(), idat.end()) - png.begin()) - 4] = 0x40;
  EXPECT_EQ(read_error(long_chunk), path + ": a PNG chunk runs past the end of the file");
  std::vector<uint8_t> huge = png;
  huge[17] = huge[21] = 0x10;  // IHDR's width and height (from byte 16 and 20): 1,048,578
  EXPECT_NE(read_error(huge).find(path + ": the PNG declares more pixels than its"), std::string::npos) << read_error(huge);
  EXPECT_EQ(read_error(png), "no error");
  std::filesystem::remove(path);
}

// A file of 2 GiB (sparse: nothing is written) is refused by its size, before it is read.
TEST(Image, RefusesAPngOf2GiBByItsSize) {
  const std::string path = (std::filesystem::temp_directory_path() / "websd_image_2gib_test.png").string();
  std::ofstream(path, std::ios::binary) << "\x89PNG";
  std::filesystem::resize_file(path, uint64_t{2} << 30);
  if (std::filesystem::file_size(path) != uint64_t{2} << 30) {
    std::filesystem::remove(path);
    GTEST_SKIP() << "this build's file system cannot make a 2 GiB file (the WebAssembly build's 32-bit offsets)";
  }
  try {
    read_png(path);
    ADD_FAILURE() << "a 2 GiB file was read";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": a PNG of 2 GiB or more is not read");
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace websd
