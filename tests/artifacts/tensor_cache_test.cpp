// The weights manifest (ndarray-cache.json): a good one round-trips, and every broken or hostile
// one is refused before any shard is fetched, with one error naming the shard or tensor at fault.
#include "artifacts/tensor_cache.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/expect_error.h"

namespace websd {
namespace {

using nlohmann::json;
using test::expect_error_naming;

const std::string kWhere = "dist/m/ndarray-cache.json";
const std::string kIntegrityA = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const std::string kIntegrityB = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

json tensor(const std::string& name, json shape, const std::string& dtype, uint64_t nbytes, uint64_t offset) {
  return {{"name", name}, {"shape", shape}, {"dtype", dtype}, {"format", "raw"}, {"nbytes", nbytes}, {"byteOffset", offset}};
}

// Two unet shards and a vae shard: float16 and float32, an odd float16 count padded to a word.
json good_manifest() {
  json unet0 = {{"dataPath", "unet-000-0123456789abcdef.bin"},
                {"format", "raw-shard"},
                {"nbytes", 128},
                {"integrity", kIntegrityA},
                {"records",
                 {tensor("unet/conv_in.weight", {2, 3}, "float16", 12, 0),
                  tensor("unet/conv_in.bias", {3}, "float16", 6, 64),  // padded to 8 bytes: ends at 72
                  tensor("unet/time.weight", {4}, "float32", 16, 112)}}};
  json unet1 = {{"dataPath", "unet-001-fedcba9876543210.bin"},
                {"format", "raw-shard"},
                {"nbytes", 4000},
                {"integrity", kIntegrityB},
                {"records", {tensor("unet/big.weight", {1000}, "float32", 4000, 0)}}};
  json vae = {{"dataPath", "weights/vae-000.bin"},
              {"format", "raw-shard"},
              {"nbytes", 8},
              {"integrity", kIntegrityA},
              {"records", {tensor("vae/decoder.conv_out.bias", {1, 1, 3}, "float16", 6, 0)}}};
  return {{"metadata", {{"ParamSize", 1013}, {"converter", "test"}}}, {"records", {unet0, unet1, vae}}};
}

TensorCache parse(const json& j) { return TensorCache::parse(j.dump(), kWhere); }

TEST(TensorCache, ParsesAGoodManifest) {
  const TensorCache c = parse(good_manifest());
  ASSERT_EQ(c.shards.size(), 3u);
  EXPECT_EQ(c.metadata["converter"], "test");
  const TensorShard& s = c.shards[0];
  EXPECT_EQ(s.data_path, "unet-000-0123456789abcdef.bin");
  EXPECT_EQ(s.nbytes, 128u);
  EXPECT_EQ(s.integrity, kIntegrityA);
  EXPECT_EQ(s.component(), "unet");
  ASSERT_EQ(s.tensors.size(), 3u);
  EXPECT_EQ(s.tensors[1].name, "unet/conv_in.bias");
  EXPECT_EQ(s.tensors[1].component(), "unet");
  EXPECT_EQ(s.tensors[1].tensor_name(), "conv_in.bias");
  EXPECT_EQ(s.tensors[1].shape, (Shape{3}));
  EXPECT_EQ(s.tensors[1].byte_offset, 64u);
  EXPECT_EQ(s.tensors[1].nbytes, 6u);
  EXPECT_EQ(s.tensors[1].dtype, WeightBytes::DType::F16);
  EXPECT_EQ(s.tensors[2].dtype, WeightBytes::DType::F32);
  EXPECT_EQ(c.shards[2].component(), "vae");
  EXPECT_EQ(c.shards[2].tensors[0].tensor_name(), "decoder.conv_out.bias");
  EXPECT_EQ(c.total_bytes(), 128u + 4000u + 8u);
  EXPECT_EQ(c.total_params(), 6 + 3 + 4 + 1000 + 3);
  EXPECT_STREQ(dtype_name(WeightBytes::DType::F16), "float16");
  EXPECT_STREQ(dtype_name(WeightBytes::DType::F32), "float32");
}

TEST(TensorCache, RoundTripsThroughJson) {
  const TensorCache c = parse(good_manifest());
  const json written = c.to_json();
  EXPECT_EQ(written, good_manifest());  // tvmjs' field names, nothing lost or added
  const TensorCache again = TensorCache::parse(written.dump(2), kWhere);
  EXPECT_EQ(again.to_json(), written);
  ASSERT_EQ(again.shards.size(), c.shards.size());
  for (size_t i = 0; i < c.shards.size(); ++i) {
    EXPECT_EQ(again.shards[i].data_path, c.shards[i].data_path);
    EXPECT_EQ(again.shards[i].integrity, c.shards[i].integrity);
    ASSERT_EQ(again.shards[i].tensors.size(), c.shards[i].tensors.size());
    for (size_t k = 0; k < c.shards[i].tensors.size(); ++k) {
      EXPECT_EQ(again.shards[i].tensors[k].name, c.shards[i].tensors[k].name);
      EXPECT_EQ(again.shards[i].tensors[k].shape, c.shards[i].tensors[k].shape);
      EXPECT_EQ(again.shards[i].tensors[k].byte_offset, c.shards[i].tensors[k].byte_offset);
    }
  }
  // Without metadata (it is optional in tvmjs' schema) the manifest still parses.
  json bare = good_manifest();
  bare.erase("metadata");
  EXPECT_TRUE(parse(bare).metadata.empty());
}

TEST(TensorCache, RefusesWhatIsNotAManifest) {
  expect_error_naming([] { TensorCache::parse("{\"records\": [", kWhere); }, {kWhere, "not valid JSON"});
  expect_error_naming([] { TensorCache::parse("[1, 2]", kWhere); }, {kWhere, "JSON object"});
  expect_error_naming([] { parse(json::object()); }, {kWhere, "'records' is missing"});
  expect_error_naming([] { parse({{"records", json::array()}}); }, {kWhere, "non-empty array of shards"});
  expect_error_naming([] { parse({{"records", "unet.bin"}}); }, {kWhere, "non-empty array of shards"});
  expect_error_naming([] { parse({{"metadata", 3}, {"records", good_manifest()["records"]}}); }, {kWhere, "'metadata'"});
  expect_error_naming([] { parse({{"records", {42}}}); }, {kWhere, "each record must be an object"});
}

// One edit of the good manifest, and what its error must name.
struct BadCase {
  std::string what;
  std::function<void(json&)> edit;
  std::vector<std::string> parts;
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.what; }

json& shard0(json& m) { return m["records"][0]; }
json& tensor0(json& m, int k) { return m["records"][0]["records"][k]; }

class BadManifest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadManifest, NamesTheShardOrTensor) {
  json m = good_manifest();
  GetParam().edit(m);
  try {
    parse(m);
    ADD_FAILURE() << GetParam().what << ": no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(kWhere + ": ", 0), 0u) << message;  // says which manifest
    for (const std::string& p : GetParam().parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

BadCase unsafe_path(const std::string& path) {
  return {"dataPath " + path, [path](json& m) { shard0(m)["dataPath"] = path; },
          {"shard '" + path + "'", "dataPath must stay inside the model's folder"}};
}

const std::vector<BadCase> kBadCases = {
    unsafe_path("../x.bin"),
    unsafe_path("/etc/passwd"),
    unsafe_path("https://evil.example/x.bin"),
    unsafe_path("//evil.example/x.bin"),
    unsafe_path("a/../b.bin"),
    unsafe_path("a\\b.bin"),
    unsafe_path("./x.bin"),
    unsafe_path("x.bin?v=1"),
    unsafe_path(""),
    {"dataPath not a string", [](json& m) { shard0(m)["dataPath"] = 7; }, {"a record", "'dataPath' must be a string"}},
    {"shard listed twice",
     [](json& m) {
       m["records"][1]["dataPath"] = shard0(m)["dataPath"];
     },
     {"shard 'unet-000-0123456789abcdef.bin' is listed twice"}},
    {"tensor listed twice in two shards",
     [](json& m) { m["records"][1]["records"][0]["name"] = "unet/conv_in.weight"; },
     {"tensor 'unet/conv_in.weight' is listed twice"}},
    {"tensor listed twice in one shard",
     [](json& m) { tensor0(m, 2) = tensor("unet/conv_in.weight", {2, 3}, "float16", 12, 80); },
     {"tensor 'unet/conv_in.weight' is listed twice"}},
    {"overlapping tensors", [](json& m) { tensor0(m, 1)["byteOffset"] = 8; },
     {"shard 'unet-000-0123456789abcdef.bin'", "'unet/conv_in.weight' and 'unet/conv_in.bias' overlap"}},
    {"nbytes disagrees with shape", [](json& m) { tensor0(m, 0)["nbytes"] = 24; },
     {"tensor 'unet/conv_in.weight'", "nbytes 24 does not match shape [2, 3] in float16 (12 bytes)"}},
    {"nbytes disagrees with dtype", [](json& m) { tensor0(m, 2)["dtype"] = "float16"; },
     {"tensor 'unet/time.weight'", "nbytes 16 does not match", "float16 (8 bytes)"}},
    {"absurd tensor nbytes as a number", [](json& m) { tensor0(m, 0)["nbytes"] = 1e15; },
     {"tensor 'unet/conv_in.weight'", "'nbytes' must be a non-negative integer"}},
    {"absurd tensor nbytes", [](json& m) { tensor0(m, 0)["nbytes"] = 1000000000000000ull; },
     {"tensor 'unet/conv_in.weight'", "nbytes 1000000000000000 is absurd"}},
    {"absurd shard nbytes", [](json& m) { shard0(m)["nbytes"] = 1000000000000000ull; },
     {"shard 'unet-000-0123456789abcdef.bin'", "nbytes 1000000000000000 is absurd"}},
    {"negative nbytes", [](json& m) { tensor0(m, 0)["nbytes"] = -12; },
     {"tensor 'unet/conv_in.weight'", "'nbytes' must be a non-negative integer"}},
    {"tensor larger than its shard",
     [](json& m) { tensor0(m, 2) = tensor("unet/time.weight", {1000}, "float32", 4000, 112); },
     {"tensor 'unet/time.weight'", "do not fit the shard's 128 bytes"}},
    {"absurd shape", [](json& m) { tensor0(m, 0)["shape"] = {1 << 20, 1 << 20, 1 << 20}; },
     {"tensor 'unet/conv_in.weight'", "is absurd"}},
    {"zero dimension", [](json& m) { tensor0(m, 0)["shape"] = {2, 0}; },
     {"tensor 'unet/conv_in.weight'", "shape [2,0]"}},
    {"byteOffset not 4-aligned", [](json& m) { tensor0(m, 1)["byteOffset"] = 66; },
     {"tensor 'unet/conv_in.bias'", "whole 4-byte words"}},
    {"byteOffset past the end", [](json& m) { tensor0(m, 1)["byteOffset"] = 128; },
     {"tensor 'unet/conv_in.bias'", "do not fit the shard's 128 bytes"}},
    {"padding past the end", [](json& m) { tensor0(m, 1)["byteOffset"] = 124; },  // 6 bytes + 2 of padding
     {"tensor 'unet/conv_in.bias'", "[124, 130)"}},
    {"unknown dtype", [](json& m) { tensor0(m, 0)["dtype"] = "bfloat16"; },
     {"tensor 'unet/conv_in.weight'", "dtype 'bfloat16' is not supported"}},
    {"unknown tensor format", [](json& m) { tensor0(m, 0)["format"] = "f32-to-bf16"; },
     {"tensor 'unet/conv_in.weight'", "format 'f32-to-bf16' is not supported"}},
    {"unknown shard format", [](json& m) { shard0(m)["format"] = "zip"; },
     {"shard 'unet-000-0123456789abcdef.bin'", "format 'zip' is not supported"}},
    {"bad integrity", [](json& m) { shard0(m)["integrity"] = "sha256-abc"; },
     {"shard 'unet-000-0123456789abcdef.bin'", "integrity 'sha256-abc'"}},
    {"integrity of another algorithm", [](json& m) { shard0(m)["integrity"] = "md5-" + kIntegrityA.substr(7); },
     {"shard 'unet-000-0123456789abcdef.bin'", "integrity"}},
    {"missing integrity", [](json& m) { shard0(m).erase("integrity"); },
     {"shard 'unet-000-0123456789abcdef.bin'", "'integrity' is missing"}},
    {"no tensors", [](json& m) { shard0(m)["records"] = json::array(); },
     {"shard 'unet-000-0123456789abcdef.bin'", "non-empty array of tensors"}},
    {"two components in one shard", [](json& m) { tensor0(m, 2)["name"] = "vae/time.weight"; },
     {"shard 'unet-000-0123456789abcdef.bin'", "two components ('unet' and 'vae')"}},
    {"a name without component/", [](json& m) { tensor0(m, 0)["name"] = "conv_in.weight"; },
     {"tensor 'conv_in.weight'", "component/tensor"}},
    {"a name with an empty component", [](json& m) { tensor0(m, 0)["name"] = "/conv_in.weight"; },
     {"tensor '/conv_in.weight'", "component/tensor"}},
    {"a name with an empty tensor", [](json& m) { tensor0(m, 0)["name"] = "unet/"; }, {"tensor 'unet/'", "component/tensor"}},
    {"a missing shape", [](json& m) { tensor0(m, 0).erase("shape"); },
     {"tensor 'unet/conv_in.weight'", "'shape' is missing"}},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadManifest, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           std::string name;
                           for (char c : info.param.what) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

}  // namespace
}  // namespace websd
