// ArtifactTensors: a manifest's shards uploaded to a backend one by one, exactly as stored, and
// the errors a loader gets for wrong, repeated or missing shards.
#include "artifacts/artifact_tensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/shape_only_backend.h"
#include "core/half.h"
#include "support/expect_error.h"

namespace websd {
namespace {

using test::expect_error_naming;

const std::string kWhere = "dist/m/ndarray-cache.json";
// ArtifactTensors trusts that the host verified the bytes; the manifest only needs the syntax.
const std::string kIntegrity = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

CachedTensor cached(const std::string& name, Shape shape, WeightBytes::DType dtype, uint64_t offset) {
  CachedTensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = dtype;
  t.byte_offset = offset;
  t.nbytes = static_cast<uint64_t>(numel(t.shape)) * (dtype == WeightBytes::DType::F16 ? 2 : 4);
  return t;
}

// Shard 0 (unet): an odd count of float16 values at 0 and float32 values at 16 (after padding).
// Shard 1 (unet): one more float16 tensor. Shard 2 (vae): one float32 tensor.
struct Model {
  std::shared_ptr<TensorCache> cache = std::make_shared<TensorCache>();
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<float> w_values{1.5f, -2.0f, 0.333251953125f, 65504.0f, -0.0009765625f};  // exact in float16
  std::vector<float> b_values{0.1f, -1e-8f, 3.14159274f};  // not exact in float16: must stay float32
  std::vector<float> x_values{7.0f, 0.5f};
  std::vector<float> v_values{-4.25f};

  Model() {
    TensorShard s0{"unet-000.bin", 32, kIntegrity,
                   {cached("unet/w", {5}, WeightBytes::DType::F16, 0), cached("unet/b", {1, 3}, WeightBytes::DType::F32, 16)}};
    TensorShard s1{"unet-001.bin", 4, kIntegrity, {cached("unet/x", {2}, WeightBytes::DType::F16, 0)}};
    TensorShard s2{"vae-000.bin", 4, kIntegrity, {cached("vae/v", {1}, WeightBytes::DType::F32, 0)}};
    cache->shards = {s0, s1, s2};
    bytes = {std::vector<uint8_t>(32, 0xAA), std::vector<uint8_t>(4), std::vector<uint8_t>(4)};
    put_f16(bytes[0], 0, w_values);
    std::memcpy(bytes[0].data() + 16, b_values.data(), 12);
    put_f16(bytes[1], 0, x_values);
    std::memcpy(bytes[2].data(), v_values.data(), 4);
  }
  static void put_f16(std::vector<uint8_t>& out, size_t at, const std::vector<float>& values) {
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t h = f32_to_f16(values[i]);
      out[at + 2 * i] = static_cast<uint8_t>(h & 0xff);
      out[at + 2 * i + 1] = static_cast<uint8_t>(h >> 8);
    }
  }
};

TEST(ArtifactTensors, PutShardUploadsTheStoredValuesExactly) {
  Model m;
  CpuBackend cpu;
  ArtifactTensors tensors(m.cache, kWhere, cpu);
  EXPECT_EQ(&tensors.cache(), m.cache.get());
  EXPECT_EQ(&tensors.backend(), &cpu);
  tensors.put_shard(0, m.bytes[0]);
  tensors.put_shard(1, m.bytes[1]);
  tensors.put_shard(2, m.bytes[2]);
  const Weights unet = tensors.weights("unet");
  EXPECT_EQ(cpu.download(unet.get("w", {5})), m.w_values);
  EXPECT_EQ(cpu.download(unet.get("b", {1, 3})), m.b_values);  // float32 kept bit for bit
  EXPECT_EQ(cpu.download(unet.get("x", {2})), m.x_values);
  EXPECT_EQ(cpu.download(tensors.weights("vae").get("v", {1})), m.v_values);
  // The model's own shape check applies to these tensors as to any checkpoint's.
  expect_error_naming([&] { unet.get("w", {6}); }, {"w", "config.json implies"});
}

TEST(ArtifactTensors, ShardsMayArriveInAnyOrder) {
  Model m;
  CpuBackend cpu;
  ArtifactTensors tensors(m.cache, kWhere, cpu);
  tensors.put_shard(2, m.bytes[2]);
  EXPECT_EQ(cpu.download(tensors.weights("vae").get("v", {1})), m.v_values);  // unet's shards need not be in
  tensors.put_shard(1, m.bytes[1]);
  tensors.put_shard(0, m.bytes[0]);
  EXPECT_EQ(cpu.download(tensors.weights("unet").get("x", {2})), m.x_values);
}

TEST(ArtifactTensors, RefusesAShardOfTheWrongSize) {
  Model m;
  CpuBackend cpu;
  ArtifactTensors tensors(m.cache, kWhere, cpu);
  std::vector<uint8_t> short_shard(m.bytes[0].begin(), m.bytes[0].end() - 1);
  expect_error_naming([&] { tensors.put_shard(0, short_shard); },
                      {kWhere, "shard 'unet-000.bin' has 31 bytes, the manifest says 32"});
  std::vector<uint8_t> long_shard = m.bytes[0];
  long_shard.push_back(0);
  expect_error_naming([&] { tensors.put_shard(0, long_shard); }, {"shard 'unet-000.bin' has 33 bytes"});
  // Nothing was taken from the refused bytes: the shard can still come.
  tensors.put_shard(0, m.bytes[0]);
  tensors.put_shard(1, m.bytes[1]);
  EXPECT_EQ(cpu.download(tensors.weights("unet").get("w", {5})), m.w_values);
}

TEST(ArtifactTensors, RefusesAShardTwiceAndOneThatDoesNotExist) {
  Model m;
  CpuBackend cpu;
  ArtifactTensors tensors(m.cache, kWhere, cpu);
  tensors.put_shard(1, m.bytes[1]);
  expect_error_naming([&] { tensors.put_shard(1, m.bytes[1]); }, {kWhere, "shard 'unet-001.bin' was loaded twice"});
  expect_error_naming([&] { tensors.put_shard(3, m.bytes[1]); }, {kWhere, "there is no shard 3 (it lists 3)"});
}

TEST(ArtifactTensors, WeightsBeforeAllTheirShardsNameTheMissingShard) {
  Model m;
  CpuBackend cpu;
  ArtifactTensors tensors(m.cache, kWhere, cpu);
  expect_error_naming([&] { tensors.weights("unet"); }, {kWhere, "shard 'unet-000.bin' of component 'unet' has not been loaded"});
  tensors.put_shard(0, m.bytes[0]);
  expect_error_naming([&] { tensors.weights("unet"); }, {"shard 'unet-001.bin' of component 'unet' has not been loaded"});
  expect_error_naming([&] { tensors.weights("text_encoder"); }, {kWhere, "has no tensors of component 'text_encoder'"});
  EXPECT_TRUE(tensors.has_component("unet"));
  EXPECT_TRUE(tensors.has_component("vae"));
  EXPECT_FALSE(tensors.has_component("text_encoder"));
}

TEST(ArtifactTensors, StagedShardsNeedTheWebGpuBackend) {
  Model m;
  CpuBackend cpu;
  ArtifactTensors tensors(m.cache, kWhere, cpu);
  expect_error_naming([&] { tensors.put_staged_shard(0, 5); }, {"cpu backend", "need the webgpu backend"});
  expect_error_naming([&] { tensors.put_staged_shard(0, 0); }, {kWhere, "staging id 0 names no bytes"});
  // The refused shard is not marked as loaded.
  tensors.put_shard(0, m.bytes[0]);
  tensors.put_shard(1, m.bytes[1]);
  EXPECT_EQ(cpu.download(tensors.weights("unet").get("b", {1, 3})), m.b_values);
}

TEST(ArtifactTensors, DeclareAllGivesShapesOnAShapeOnlyBackend) {
  Model m;
  ShapeOnlyBackend shapes;
  ArtifactTensors tensors(m.cache, kWhere, shapes);
  tensors.declare_all();
  const Weights unet = tensors.weights("unet");
  EXPECT_EQ(unet.get("w", {5}).shape, (Shape{5}));
  EXPECT_EQ(unet.get("b", {1, 3}).shape, (Shape{1, 3}));
  EXPECT_EQ(unet.get("x", {2}).shape, (Shape{2}));
  EXPECT_EQ(tensors.weights("vae").get("v", {1}).shape, (Shape{1}));
  // A manifest whose shape disagrees with the config is caught before any byte is downloaded.
  expect_error_naming([&] { unet.get("b", {3}); }, {"'b'", "[1, 3]", "config.json implies [3]"});
  expect_error_naming([&] { shapes.download(unet.get("w", {5})); }, {"shape-only backend"});
}

}  // namespace
}  // namespace websd
