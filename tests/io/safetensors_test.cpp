#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/fixtures.h"

namespace websd {
namespace {

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("websd_io_" + std::to_string(getpid()) + "_" + name)).string();
}

// A file with the given header JSON and data bytes.
std::string write_raw(const std::string& name, const std::string& header, const std::vector<uint8_t>& data) {
  const std::string path = temp_file(name);
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return path;
}

void expect_error_containing(const std::string& path, const std::string& fragment) {
  try {
    SafetensorsFile f(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RoundTripsFloat32) {
  const std::string path = temp_file("rt.safetensors");
  std::map<std::string, HostTensor> tensors = {{"b", HostTensor({2, 3}, {1, 2, 3, 4, 5, 6})},
                                               {"a", HostTensor({1}, {-0.5f})}};
  write_safetensors(path, tensors);
  SafetensorsFile f(path);
  EXPECT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.read("b").data, tensors["b"].data);
  EXPECT_EQ(f.read("b").shape, (Shape{2, 3}));
  EXPECT_EQ(f.read("a").data, tensors["a"].data);
  EXPECT_THROW(f.read("missing"), Error);
  std::filesystem::remove(path);
}

TEST(Safetensors, ConvertsEveryDtypeToFloat) {
  const uint16_t h[2] = {0x3c00, 0xc000};  // f16 1, -2
  const uint16_t bf[2] = {0x3f80, 0x4040};  // bf16 1, 3
  const double d[2] = {0.25, 1e10};
  const int64_t i64[2] = {-7, 9};
  const int32_t i32[2] = {3, -4};
  std::vector<uint8_t> data;
  auto append = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data.insert(data.end(), b, b + n);
  };
  append(h, 4);
  append(bf, 4);
  append(d, 16);
  append(i64, 16);
  append(i32, 8);
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"bf":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},)"
      R"("d":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},"l":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},)"
      R"("i":{"dtype":"I32","shape":[2],"data_offsets":[40,48]},"__metadata__":{"format":"pt"}})";
  SafetensorsFile f(write_raw("dtypes.safetensors", header, data));
  EXPECT_EQ(f.read("h").data, (std::vector<float>{1, -2}));
  EXPECT_EQ(f.read("bf").data, (std::vector<float>{1, 3}));
  EXPECT_EQ(f.read("d").data, (std::vector<float>{0.25f, 1e10f}));
  EXPECT_EQ(f.read_f64("d"), (std::vector<double>{0.25, 1e10}));
  EXPECT_EQ(f.read("l").data, (std::vector<float>{-7, 9}));
  EXPECT_EQ(f.read("i").data, (std::vector<float>{3, -4}));
  EXPECT_EQ(f.read_f64("i"), (std::vector<double>{3, -4}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

TEST(Safetensors, RejectsMalformedHeaders) {
  const std::vector<uint8_t> eight(8, 0);
  expect_error_containing(write_raw("json.st", "{not json", eight), "not a JSON object");
  expect_error_containing(write_raw("dtype.st", R"({"x":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", eight),
                          "unsupported dtype");
  expect_error_containing(write_raw("outside.st", R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
                          "outside");
  expect_error_containing(write_raw("size.st", R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
                          "do not match shape");
  expect_error_containing(write_raw("overlap.st",
                                    R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    eight),
                          "overlap");
  expect_error_containing(write_raw("fields.st", R"({"x":{"dtype":"F32","shape":[2]}})", eight), "data_offsets");
  expect_error_containing(write_raw("neg.st", R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
                          "non-negative");

  const std::string huge = temp_file("huge.st");
  {
    std::ofstream out(huge, std::ios::binary);
    uint64_t n = 1ull << 40;
    out.write(reinterpret_cast<const char*>(&n), 8);
  }
  expect_error_containing(huge, "header length");
  const std::string tiny = temp_file("tiny.st");
  std::ofstream(tiny) << "abc";
  expect_error_containing(tiny, "shorter than");
  EXPECT_THROW(SafetensorsFile("/nonexistent.safetensors"), Error);
}

// Limits checked before anything is allocated for the tensors (SECURITY.md): element counts that
// would overflow, and more tensors than any checkpoint holds.
TEST(Safetensors, RefusesHeadersBeyondItsLimits) {
  const std::vector<uint8_t> eight(8, 0);
  expect_error_containing(
      write_raw("overflow.st", R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
      "tensor 'x': shape is too large");
  const std::string empty_tensor = R"({"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  std::string many = "{";
  for (int i = 0; i <= 65536; ++i) many += "\"t" + std::to_string(i) + "\":" + empty_tensor + ",";
  many.back() = '}';
  expect_error_containing(write_raw("many.st", many, eight), "lists 65537 tensors; websd reads at most 65536 per file");
  // 65536 tensors and the metadata are allowed.
  many.replace(1, std::string("\"t0\":").size() + empty_tensor.size(), "\"__metadata__\":{}");
  EXPECT_EQ(SafetensorsFile(write_raw("most.st", many, eight)).tensors().size(), 65536u);
}

// Found by tests/fuzz/safetensors_fuzzer.cpp: an empty tensor was converted with memcpy from null
// data (undefined, reported by UBSan), a size of 2^63 or more beside a 0 (no bytes) turned into a
// negative dimension, and 2^61 + 1 float64 elements passed for 8 bytes (the byte count wrapped
// around 2^64), so read() asked for an impossible vector.
TEST(Safetensors, ReadsEmptyTensorsAndRefusesHugeSizesBesideZero) {
  SafetensorsFile f(write_raw("empty.st",
                              R"({"f":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},)"
                              R"("d":{"dtype":"F64","shape":[0],"data_offsets":[0,0]}})",
                              {}));
  EXPECT_EQ(f.read("f").shape, (Shape{0, 4}));
  EXPECT_TRUE(f.read("f").data.empty());
  EXPECT_TRUE(f.read_f64("d").empty());
  expect_error_containing(
      write_raw("negative.st", R"({"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", {}),
      "tensor 'x': shape is too large");
  expect_error_containing(write_raw("wrapped.st", R"({"x":{"dtype":"F64","shape":[2305843009213693953],"data_offsets":[0,8]}})",
                                    std::vector<uint8_t>(8, 0)),
                          "tensor 'x': 8 bytes do not match shape [2305843009213693953] of F64");
}

TEST(Safetensors, ReadsTheFixtures) {
  SafetensorsFile f(test::fixture("tiny-sd15/components.safetensors"));
  const HostTensor ids = f.read("te_input_ids");
  EXPECT_EQ(ids.shape, (Shape{1, 77}));
  EXPECT_EQ(ids.data[0], 49406.0f);
}

TEST(HalfFloat, RoundTripsAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // a tie rounds to even
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);                 // overflow to infinity
  EXPECT_EQ(f32_to_f16(1e-9f), 0x0000);                // underflow to zero
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
}

}  // namespace
}  // namespace websd
