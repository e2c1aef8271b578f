// The WebGPU backend's C++ side against a fake host that keeps buffers in memory and records
// dispatches: buffer lifetimes, pipeline caching, dispatch grids, shape errors. The kernels
// themselves run on a real WebGPU device in tests/web/webgpu (Node + Dawn).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "backend/webgpu/kernels/elementwise.h"
#include "backend/webgpu/kernels/layout.h"
#include "backend/webgpu/kernels/matmul.h"
#include "backend/webgpu/kernels/norm.h"
#include "backend/webgpu/kernels/tensor_core_attention.h"
#include "backend/webgpu/kernels/tensor_core_gemm.h"
#include "backend/webgpu/webgpu_backend.h"
#include "core/error.h"
#include "core/half.h"
#include "models/autoencoder_kl.h"
#include "models/unet.h"
#include "models/weights.h"
#include "support/expect_error.h"

namespace websd {
namespace {

struct Dispatch {
  uint32_t pipeline;
  size_t bindings, uniform_bytes;
  uint32_t x, y, z;
  std::vector<uint8_t> uniforms;
  std::vector<uint64_t> binding_bytes;  // each binding's range (0: to the buffer's end)
  std::vector<uint32_t> binding_buffers;
};

class FakeHost : public GpuHost {
 public:
  uint32_t create_buffer(uint64_t bytes) override {
    buffers[next] = std::vector<uint8_t>(bytes);
    return next++;
  }
  void destroy_buffer(uint32_t id) noexcept override { buffers.erase(id); }
  void write_buffer(uint32_t id, uint64_t offset, std::span<const uint8_t> bytes) override {
    std::copy(bytes.begin(), bytes.end(), buffers.at(id).begin() + static_cast<std::ptrdiff_t>(offset));
  }
  uint32_t create_pipeline(const std::string& wgsl, const std::string&, const std::string& name) override {
    names.push_back(name);
    sources.push_back(wgsl);
    source_of[next] = wgsl;
    return next++;
  }
  void dispatch(uint32_t p, std::span<const GpuBinding> b, std::span<const uint8_t> u, uint32_t x, uint32_t y,
                uint32_t z) override {
    std::vector<uint64_t> bytes;
    std::vector<uint32_t> ids;
    for (const GpuBinding& g : b) {  // every binding must be a range of a live buffer
      if (g.offset + g.size > buffers.at(g.buffer).size()) throw Error("fake host: binding past its buffer's end");
      bytes.push_back(g.size);
      ids.push_back(g.buffer);
    }
    dispatches.push_back({p, b.size(), u.size(), x, y, z, {u.begin(), u.end()}, bytes, ids});
  }
  void flush() override {}
  std::vector<uint8_t> read_buffer(uint32_t id, uint64_t offset, uint64_t bytes) override {
    const auto& b = buffers.at(id);
    return {b.begin() + static_cast<std::ptrdiff_t>(offset), b.begin() + static_cast<std::ptrdiff_t>(offset + bytes)};
  }
  GpuLimits limits() const override { return lim; }
  // Bytes the JS host would hold under a staging id (a fetched shard); without keeps_staged, the
  // interface's default (a host that keeps none).
  void write_buffer_staged(uint32_t id, uint64_t offset, uint32_t staged_id, uint64_t staged_offset,
                           uint64_t bytes) override {
    if (!keeps_staged) return GpuHost::write_buffer_staged(id, offset, staged_id, staged_offset, bytes);
    const std::vector<uint8_t>& from = staged.at(staged_id);
    std::vector<uint8_t>& to = buffers.at(id);
    if (staged_offset + bytes > from.size() || offset + bytes > to.size()) throw Error("fake host: staged write out of range");
    std::copy_n(from.begin() + static_cast<std::ptrdiff_t>(staged_offset), bytes,
                to.begin() + static_cast<std::ptrdiff_t>(offset));
    staged_writes.push_back({id, offset, staged_id, staged_offset, bytes});
  }

  struct StagedWrite {
    uint32_t buffer;
    uint64_t offset;
    uint32_t staged;
    uint64_t staged_offset, bytes;
  };
  bool keeps_staged = true;
  std::map<uint32_t, std::vector<uint8_t>> staged;  // staging id → bytes
  std::vector<StagedWrite> staged_writes;

  uint32_t next = 1;
  std::map<uint32_t, std::vector<uint8_t>> buffers;
  std::vector<std::string> sources, names;    // of each pipeline made, in order
  std::map<uint32_t, std::string> source_of;  // pipeline id → source
  std::vector<Dispatch> dispatches;
  GpuLimits lim;
};

// Field `name` of a dispatch's uniform, found by its place in the pipeline's `struct Dims` (dims.h):
// the source and the bytes must agree.
uint32_t dim(const FakeHost& host, const Dispatch& d, const std::string& name) {
  const std::string& src = host.source_of.at(d.pipeline);
  const size_t open = src.find("struct Dims {");
  EXPECT_NE(open, std::string::npos) << "the kernel declares no sizes";
  const std::string fields = src.substr(open, src.find('}', open) - open);
  const size_t at = fields.find(" " + name + ": u32,");
  EXPECT_NE(at, std::string::npos) << "no field " << name << " in " << fields;
  size_t index = 0;
  for (size_t i = fields.find(": u32,"); i < at; i = fields.find(": u32,", i + 1)) ++index;
  EXPECT_LT((index + 1) * 4, d.uniforms.size() + 1) << name << " is past the uniform's bytes";
  uint32_t v = 0;
  std::memcpy(&v, d.uniforms.data() + index * 4, sizeof v);
  return v;
}

uint32_t bits(float f) {
  uint32_t v = 0;
  std::memcpy(&v, &f, sizeof v);
  return v;
}

TEST(WebGpuBackend, UploadDownloadRoundTripAndPoolsBuffers) {
  auto host = std::make_shared<FakeHost>();
  {
    WebGpuBackend gpu(host);
    EXPECT_EQ(gpu.name(), "webgpu");
    const std::vector<float> v{1.5f, -2.0f, 3.25f};
    {
      Tensor t = gpu.upload({3}, v);
      EXPECT_EQ(host->buffers.size(), 1u);
      EXPECT_EQ(host->buffers.begin()->second.size(), 16u) << "12 bytes round up to their size class";
      EXPECT_EQ(gpu.download(t), v);
      EXPECT_EQ(gpu.tensor_bytes(), 12);
    }
    // A dead tensor's buffer waits in the pool; the next tensor of that size takes it.
    EXPECT_EQ(gpu.tensor_bytes(), 0);
    EXPECT_EQ(host->buffers.size(), 1u);
    Tensor again = gpu.upload({3}, v);
    EXPECT_EQ(host->buffers.size(), 1u);
    Tensor other = gpu.upload({4}, std::vector<float>(4));
    EXPECT_EQ(host->buffers.size(), 2u);
    EXPECT_EQ(gpu.stats().live_bytes, 32);
    EXPECT_EQ(gpu.stats().peak_bytes, 32);
    EXPECT_THROW(gpu.upload({2}, std::vector<float>{1.0f}), Error);

    // trim() gives the pooled buffers back and keeps the live ones.
    { Tensor dead = gpu.upload({5}, std::vector<float>(5)); }
    EXPECT_EQ(host->buffers.size(), 3u);
    gpu.reset_peak();
    gpu.trim();
    EXPECT_EQ(host->buffers.size(), 2u);
    EXPECT_EQ(gpu.stats().live_bytes, 32);
    EXPECT_EQ(gpu.download(again), v);
  }
  EXPECT_TRUE(host->buffers.empty());  // the backend gives its pool back
}

// Reuse::Once: a new size takes the room of idle buffers (the longest idle first) instead of
// adding to them; a size seen before still reuses its buffer.
TEST(WebGpuBackend, ReuseOnceGivesIdleBuffersBackForNewSizes) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  gpu.set_reuse(Backend::Reuse::Once);
  { Tensor a = gpu.upload({3}, std::vector<float>(3)); }
  { Tensor b = gpu.upload({5}, std::vector<float>(5)); }
  EXPECT_EQ(host->buffers.size(), 1u) << "the idle 12 bytes made room for the 20";
  Tensor c = gpu.upload({5}, std::vector<float>(5));
  EXPECT_EQ(host->buffers.size(), 1u) << "the same size reuses";
  { Tensor d = gpu.upload({2}, std::vector<float>(2)); }
  { Tensor e = gpu.upload({1}, std::vector<float>(1)); }
  EXPECT_EQ(host->buffers.size(), 2u) << "live buffers stay; only idle ones go";
  EXPECT_EQ(gpu.stats().live_bytes, 48);  // 20 and 8 bytes in their size classes
  gpu.set_reuse(Backend::Reuse::Repeating);
  { Tensor f = gpu.upload({7}, std::vector<float>(7)); }
  EXPECT_EQ(host->buffers.size(), 3u) << "repeating keeps every idle buffer";
}

// A generation that asks for what the one before asked, in the same order, gets the very same
// buffers whatever order they came back in, so that the GPU host's bind groups (keyed by buffers)
// are reused and not made anew every run.
TEST(WebGpuBackend, ARepeatedRunBindsTheSameBuffers) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  const auto run = [&] {
    const size_t first = host->dispatches.size();
    {
      Tensor x = gpu.upload({16}, std::vector<float>(16, 1.0f));
      Tensor y = gpu.unary(x, UnaryOp::SiLU);
      Tensor z = gpu.unary(y, UnaryOp::SiLU);
      x = Tensor{};  // released x, then z, then y: not the order they were made in
    }
    std::vector<std::vector<uint32_t>> bound;
    for (size_t i = first; i < host->dispatches.size(); ++i) bound.push_back(host->dispatches[i].binding_buffers);
    return bound;
  };
  const auto first = run();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(run(), first);
  EXPECT_EQ(run(), first);
  EXPECT_EQ(host->buffers.size(), 3u);
}

// In the denoising loop a smaller request takes a pooled buffer of up to four times its size
// class and its kernels bind only its own bytes; a run-once stage and the weights do not.
TEST(WebGpuBackend, RepeatingRequestsShareLargerPooledBuffers) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  { Tensor big = gpu.upload({64}, std::vector<float>(64)); }
  const std::vector<float> v(16, -1.5f);
  Tensor small = gpu.upload({16}, v);
  ASSERT_EQ(host->buffers.size(), 1u) << "64 bytes take the pooled 256";
  EXPECT_EQ(gpu.tensor_bytes(), 64);
  EXPECT_EQ(gpu.download(small), v);
  gpu.unary(small, UnaryOp::SiLU);
  EXPECT_EQ(host->dispatches.back().binding_bytes, (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(host->buffers.size(), 2u);
  small = Tensor{};
  Tensor a = gpu.upload({8}, std::vector<float>(8));
  EXPECT_EQ(host->buffers.size(), 2u) << "32 bytes take the best fit, the pooled 64";
  Tensor b = gpu.upload({9}, std::vector<float>(9));
  EXPECT_EQ(host->buffers.size(), 3u) << "36 bytes (class 48) do not take the pooled 256, over four times";
  a = b = Tensor{};
  gpu.trim();
  { Tensor big = gpu.upload({64}, std::vector<float>(64)); }
  gpu.set_reuse(Backend::Reuse::Once);
  Tensor once = gpu.upload({16}, v);
  ASSERT_EQ(host->buffers.size(), 1u) << "run once: the idle 256 bytes went, a 64 came";
  EXPECT_EQ(host->buffers.begin()->second.size(), 64u);
  gpu.set_reuse(Backend::Reuse::Repeating);
  once = Tensor{};
  Tensor w = gpu.upload_weight({16}, v);
  EXPECT_EQ(host->buffers.size(), 2u) << "weights take exactly their size";
}

TEST(WebGpuBackend, WeightsAreFloat16PairsInWords) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  const std::vector<float> v{1.5f, -2.0f, 3.25f, 65504.0f, 0.0009765625f};
  Tensor w = gpu.upload_weight({5}, v);
  ASSERT_EQ(host->buffers.size(), 1u);
  EXPECT_EQ(host->buffers.begin()->second.size(), 12u);  // three u32 words
  EXPECT_EQ(gpu.download(w), v);
  EXPECT_EQ(gpu.download(gpu.upload_weight({1}, std::vector<float>{0.1f}))[0], f16_to_f32(f32_to_f16(0.1f)));
  Tensor x = gpu.upload(HostTensor({2, 5}));
  gpu.linear(x, gpu.upload_weight({3, 5}, std::vector<float>(15)), nullptr);
  EXPECT_NE(host->sources.back().find("unpack2x16float(w_0["), std::string::npos);
  EXPECT_NE(host->sources.back().find("array<u32>"), std::string::npos);
}

TEST(WebGpuBackend, TensorsAboveTheBindingLimitAreSplit) {
  auto host = std::make_shared<FakeHost>();
  host->lim.max_storage_buffer_binding_size = 4096;  // 1024 floats, 2048 halves per binding
  WebGpuBackend gpu(host);
  std::vector<float> v(2500);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 2048);  // exact in float16
  Tensor x = gpu.upload({2500}, v);
  EXPECT_EQ(host->buffers.size(), 3u);
  EXPECT_EQ(gpu.download(x), v);
  Tensor w = gpu.upload_weight({2500}, v);
  EXPECT_EQ(host->buffers.size(), 5u);
  EXPECT_EQ(gpu.download(w), v);
  gpu.add(x, w);
  EXPECT_EQ(host->dispatches.back().bindings, 8u);  // 3 + 2 + 3
  const std::string& src = host->sources.back();
  EXPECT_NE(src.find("if (i < 2048u) { return unpack2x16float(b_0["), std::string::npos);
  EXPECT_NE(src.find("return x_2[i - 2048u];"), std::string::npos);
  EXPECT_NE(src.find("y_1[i - 1024u] = v"), std::string::npos);
  // More bindings than the device allows is an error that says so, not a validation failure.
  Tensor x2 = gpu.upload({2500}, v);
  EXPECT_THROW(gpu.concat_channels(x.reshaped({1, 2500}), x2.reshaped({1, 2500})), Error);
}

TEST(WebGpuBackend, ElementwiseWrapsLargeGridsIntoRows) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({1000003}));
  Tensor y = gpu.scale(x, 2.0f);
  ASSERT_EQ(host->dispatches.size(), 1u);
  const Dispatch& d = host->dispatches[0];
  EXPECT_EQ(d.x, 3907u);  // ceil(1000003 / 256) workgroups fit one row
  EXPECT_EQ(d.y, 1u);
  EXPECT_EQ(dim(*host, d, "S"), bits(2.0f));  // the factor is a uniform
  EXPECT_EQ(dim(*host, d, "COUNT"), 1000003u);
  host->lim.max_workgroups_per_dimension = 1000;
  WebGpuBackend small(host);
  Tensor z = small.unary(small.upload(HostTensor({1000003})), UnaryOp::GELU);
  EXPECT_EQ(host->dispatches.back().x, 1000u);
  EXPECT_EQ(host->dispatches.back().y, 4u);
  EXPECT_EQ(dim(*host, host->dispatches.back(), "ROW"), 1000u * 256);
  EXPECT_NE(host->sources.back().find("erf_f32"), std::string::npos);
}

TEST(WebGpuBackend, DimsDeclareTheFieldsTheirBytesCarry) {
  wgsl::Dims dims{{"A", 7}};
  dims.add("B", 9).set("A", 8);
  EXPECT_EQ(dims.declare(3), "struct Dims { A: u32, B: u32, }\n@group(0) @binding(3) var<uniform> d: Dims;\n");
  const std::span<const uint8_t> bytes = dims.bytes();
  ASSERT_EQ(bytes.size(), 8u);
  uint32_t values[2];
  std::memcpy(values, bytes.data(), sizeof values);
  EXPECT_EQ(values[0], 8u);
  EXPECT_EQ(values[1], 9u);
  test::expect_error_naming([&] { dims.set("C", 1); }, {"no field C"});
}

// One pipeline serves every size (kernels/dims.h): after the tiny SD 1.5 UNet and VAE have made a
// 512² picture's latents, 1024²'s and 576²'s compile nothing new on the float32 kernels. The tensor
// cores' GEMM layouts follow the sizes (staging, K split or not: a product with tiles enough to
// fill the GPU is not split), so on the tensor cores other resolutions may add GEMMs in other
// layouts, but nothing else.
TEST(WebGpuBackend, OtherResolutionsCompileOnlyTensorCoreGemmLayouts) {
  const std::string dir = std::string(WEBSD_FIXTURES_DIR) + "/tiny-sd15/model";
  const UNetConfig config = UNetConfig::load(dir + "/unet/config.json");
  const AutoencoderKLConfig vae_config = AutoencoderKLConfig::load(dir + "/vae/config.json");
  for (const bool tensor_cores : {false, true}) {
    SCOPED_TRACE(tensor_cores ? "tensor cores" : "float32 kernels");
    auto host = std::make_shared<FakeHost>();
    host->lim.tensor_cores = tensor_cores;
    host->lim.subgroup_size = 32;
    host->lim.max_workgroup_storage = 49152;  // the H100's: WebGPU's 16 KiB default leaves some products unstaged
    host->lim.max_storage_buffer_binding_size = host->lim.max_buffer_size = 1ull << 31;
    WebGpuBackend gpu(host);
    const UNet2DConditionModel unet = UNet2DConditionModel::random(config, gpu, 0);
    const AutoencoderKL vae = AutoencoderKL::build(vae_config, Weights::random(gpu, 1));
    TextContext context = unet.text_context(gpu.upload(HostTensor({2, 77, config.cross_attention_dim.at(0)})));
    const std::vector<float> timesteps{999.0f, 999.0f};
    const auto picture = [&](int64_t side) {
      gpu.to_host(unet.forward(gpu.upload(HostTensor({2, config.in_channels, side, side})), timesteps, context));
      gpu.to_host(vae.decode(gpu.upload(HostTensor({1, vae_config.latent_channels, side, side}))));
      return host->names.size();
    };
    const size_t at_512 = picture(64);
    picture(128);
    picture(72);
    for (size_t i = at_512; i < host->names.size(); ++i) {
      EXPECT_TRUE(tensor_cores && host->names[i].starts_with("tc-gemm:")) << host->names[i];
    }
  }
}

// A pipeline per op and what shapes its code; the sizes are uniforms (kernels/dims.h).
TEST(WebGpuBackend, PipelinesAreCachedByOpAndShape) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor a = gpu.upload(HostTensor({4, 6}));
  Tensor b = gpu.upload(HostTensor({6}));
  gpu.add(a, b);
  gpu.add(a, b);
  gpu.scale(a, 1.0f);
  gpu.scale(a, 3.0f);  // the factor is a uniform: no new pipeline
  gpu.unary(a, UnaryOp::SiLU);
  gpu.unary(a, UnaryOp::QuickGELU);
  EXPECT_EQ(gpu.stats().pipelines, 4u);
  gpu.add(gpu.upload(HostTensor({5, 3})), gpu.upload(HostTensor({3})));  // other sizes: the same kernel
  gpu.linear(a, gpu.upload(HostTensor({7, 6})), nullptr);
  gpu.linear(gpu.upload(HostTensor({9, 6})), gpu.upload(HostTensor({11, 6})), nullptr);  // tiles of 16 rows both
  EXPECT_EQ(gpu.stats().pipelines, 5u);
  EXPECT_EQ(host->sources.size(), 5u);
  EXPECT_GT(gpu.stats().compile_ms, 0.0);
  EXPECT_THROW(gpu.add(a, gpu.upload(HostTensor({4}))), Error);
}

TEST(WebGpuBackend, LinearDispatchesOneWorkgroupPerTile) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({3, 37, 53}));
  Tensor w = gpu.upload(HostTensor({29, 53}));
  Tensor bias = gpu.upload(HostTensor({29}));
  Tensor y = gpu.linear(x, w, &bias);
  EXPECT_EQ(y.shape, (Shape{3, 37, 29}));
  // Tiles of 64 of x's 111 rows × 64 of the 29 outputs: two.
  EXPECT_EQ(host->dispatches.back().x, 2u);
  EXPECT_EQ(host->dispatches.back().y, 1u);
  EXPECT_EQ(host->dispatches.back().bindings, 4u);
  gpu.linear(x, w, nullptr);
  EXPECT_EQ(host->dispatches.back().bindings, 3u);
  EXPECT_THROW(gpu.linear(w, x, nullptr), Error);
  // The epilogue in the same dispatch: the residual one binding more, the image an index of y.
  const Tensor image_residual = gpu.upload(HostTensor({3, 29, 37, 1}));
  const size_t dispatches = host->dispatches.size();
  y = gpu.linear(x, w, &bias, {37, 1, &image_residual});
  EXPECT_EQ(y.shape, image_residual.shape);
  EXPECT_EQ(host->dispatches.size(), dispatches + 1);
  EXPECT_EQ(host->dispatches.back().bindings, 5u);
  EXPECT_NE(host->sources.back().find("(row / d.IMG * d.N + col) * d.IMG + row % d.IMG"), std::string::npos);
  EXPECT_EQ(dim(*host, host->dispatches.back(), "IMG"), 37u);
  EXPECT_NE(host->sources.back().find("load_r(at)"), std::string::npos);
  test::expect_error_naming([&] { gpu.linear(x, w, &bias, {.residual = &x}); }, {"linear", "residual", "[3, 37, 29]"});
  test::expect_error_naming([&] { gpu.linear(x, w, &bias, {6, 6}); }, {"linear", "6x6 image"});
  wgsl::MatmulSpec mm;
  mm.m = 111;
  mm.n = 29;
  mm.k = 53;
  mm.out.bias = true;
  EXPECT_NE(wgsl::matmul_source(mm).find("struct Dims { M: u32, N: u32, K: u32,"), std::string::npos);
  EXPECT_EQ(wgsl::matmul_tiles(mm), 2u);
  mm.m = 9;  // thin tiles of 16 rows × 256 outputs
  EXPECT_EQ(wgsl::matmul_tiles(mm), 1u);
  mm.m = 1u << 20;
  mm.k = 1u << 13;
  test::expect_error_naming([&] { wgsl::matmul_tiles(mm); }, {"linear", "32-bit indices"});
}

TEST(WebGpuBackend, AddChannelAndGegluShapesAndErrors) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({2, 5, 3, 7}));
  Tensor y = gpu.add_channel(x, gpu.upload(HostTensor({2, 5})));
  EXPECT_EQ(y.shape, x.shape);
  EXPECT_EQ(host->dispatches.back().bindings, 3u);
  EXPECT_EQ(dim(*host, host->dispatches.back(), "INNER"), 21u);
  EXPECT_THROW(gpu.add_channel(x, gpu.upload(HostTensor({5}))), Error);
  Tensor g = gpu.geglu(gpu.upload(HostTensor({3, 4, 22})));
  EXPECT_EQ(g.shape, (Shape{3, 4, 11}));
  EXPECT_EQ(host->dispatches.back().x, 1u);  // 132 outputs
  EXPECT_EQ(host->dispatches.back().bindings, 2u);
  EXPECT_NE(host->sources.back().find("erf_f32"), std::string::npos);
  EXPECT_THROW(gpu.geglu(gpu.upload(HostTensor({3, 5}))), Error);
  wgsl::ElementwiseSpec bad;
  bad.op = wgsl::ElementwiseOp::AddChannel;
  bad.count = 10;
  bad.b_count = bad.inner = 3;
  EXPECT_THROW(wgsl::elementwise_source(bad), Error);
}

TEST(WebGpuBackend, LayoutOpsShapesGridsAndErrors) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({2, 3, 5, 7}));
  Tensor nlc = gpu.nchw_to_nlc(x);
  EXPECT_EQ(nlc.shape, (Shape{2, 35, 3}));
  EXPECT_EQ(gpu.nlc_to_nchw(nlc, 5, 7).shape, x.shape);
  EXPECT_THROW(gpu.nlc_to_nchw(nlc, 5, 6), Error);
  EXPECT_THROW(gpu.nchw_to_nlc(nlc), Error);
  EXPECT_EQ(gpu.upsample_nearest(x, 10, 14).shape, (Shape{2, 3, 10, 14}));
  EXPECT_THROW(gpu.upsample_nearest(x, 0, 14), Error);
  Tensor c = gpu.concat_channels(x, gpu.upload(HostTensor({2, 4, 5, 7})));
  EXPECT_EQ(c.shape, (Shape{2, 7, 5, 7}));
  EXPECT_EQ(host->dispatches.back().bindings, 3u);
  EXPECT_THROW(gpu.concat_channels(x, gpu.upload(HostTensor({2, 4, 5, 6}))), Error);
  Tensor table = gpu.upload(HostTensor({10, 4}));
  const size_t before = host->dispatches.size();
  Tensor e = gpu.embedding(table, std::vector<int>{3, 0, 9});
  EXPECT_EQ(e.shape, (Shape{3, 4}));
  EXPECT_EQ(host->dispatches.size(), before + 1);
  EXPECT_EQ(host->dispatches.back().bindings, 3u);
  EXPECT_THROW(gpu.embedding(table, std::vector<int>{10}), Error);
  EXPECT_THROW(gpu.embedding(table, std::vector<int>{-1}), Error);
  // The ids buffer is temporary: only the tensors still held stay in use.
  nlc = c = e = Tensor{};
  EXPECT_EQ(gpu.tensor_bytes(), (x.numel() + table.numel()) * 4);
  // Large outputs wrap the grid into rows as the elementwise kernels do.
  host->lim.max_workgroups_per_dimension = 1000;
  WebGpuBackend small(host);
  small.nchw_to_nlc(small.upload(HostTensor({1, 1000, 1000, 1})));
  EXPECT_EQ(host->dispatches.back().x, 1000u);
  EXPECT_EQ(host->dispatches.back().y, 4u);  // ceil(3907 / 1000)
  wgsl::LayoutSpec bad;
  bad.op = wgsl::LayoutOp::Concat;
  bad.count = 10;
  bad.a = bad.b = bad.c = 1;
  bad.d = 4;
  EXPECT_THROW(wgsl::layout_source(bad), Error);
}


// Products of whole 16s take the tensor cores where the device has them: a gemm dispatch per range
// of rows (after a pack dispatch where the kernel is unstaged), each with the range's first row as
// its uniform, and a reduce dispatch after the gemm where the product has too few tiles and is
// deep enough to split over K.
TEST(WebGpuBackend, TensorCoresTakeLinearAndConvOfWhole16s) {
  auto host = std::make_shared<FakeHost>();
  host->lim.tensor_cores = true;
  host->lim.subgroup_size = 32;
  WebGpuBackend gpu(host);
  Tensor w = gpu.upload_weight({640, 320}, std::vector<float>(640 * 320));
  Tensor b = gpu.upload(HostTensor({640}));
  Tensor x = gpu.upload(HostTensor({2, 150, 320}));
  EXPECT_EQ(gpu.linear(x, w, &b).shape, (Shape{2, 150, 640}));
  // 5 × 10 tiles of 64 × 64, staged by workgroups of 1 × 2 subgroups (5 rows of tiles do not pair)
  // one step of 16 at a time (two would not fit WebGPU's default 16 KiB of workgroup memory), and
  // K = 20 steps of 16: two slices of 10 steps (a slice has at least 8). Staged, the gemm gathers
  // x itself: no pack.
  ASSERT_EQ(host->dispatches.size(), 2u);
  EXPECT_EQ(host->dispatches[0].bindings, 3u);  // x, w, partial sums
  EXPECT_EQ(dim(*host, host->dispatches[0], "P0"), 0u);  // the range's first row, for reading x
  EXPECT_EQ(host->dispatches[0].x, 5u * 5 * 2);
  EXPECT_NE(host->sources[0].find("subgroupMatrixMultiplyAccumulate"), std::string::npos);
  EXPECT_NE(host->sources[0].find("@workgroup_size(THREADS)"), std::string::npos);
  EXPECT_NE(host->sources[0].find("const THREADS: u32 = 64u;"), std::string::npos);
  EXPECT_NE(host->sources[0].find("const KC: u32 = 16u;"), std::string::npos);
  EXPECT_EQ(dim(*host, host->dispatches[0], "KS"), 160u);
  EXPECT_NE(host->sources[0].find("f16_pair(gather(r, c + 6u), gather(r, c + 6u + 1u))"), std::string::npos);
  EXPECT_EQ(host->sources[0].find("packed"), std::string::npos);
  EXPECT_EQ(host->dispatches[1].bindings, 3u);  // partial sums, bias, y
  EXPECT_EQ(host->dispatches[1].uniform_bytes, host->dispatches[0].uniform_bytes);  // one uniform for all three
  EXPECT_EQ(host->dispatches[1].x, 320u * 640 / 256);
  EXPECT_EQ(dim(*host, host->dispatches[1], "SPLITS"), 2u);
  EXPECT_EQ(gpu.stats().pipelines, 2u);

  // K = 64 is too shallow to split: the gemm alone, which writes y with the bias.
  gpu.linear(gpu.upload(HostTensor({2, 150, 64})), gpu.upload_weight({640, 64}, std::vector<float>(640 * 64)), &b);
  ASSERT_EQ(host->dispatches.size(), 3u);
  EXPECT_EQ(host->dispatches[2].bindings, 4u);  // x, w, bias, y
  EXPECT_EQ(host->dispatches[2].x, 5u * 5);
  EXPECT_NE(host->sources.back().find("var<workgroup> staged: array<f32, 512u>;"), std::string::npos);

  // Unstaged (1 KiB of workgroup memory), a pack into float16 first, which the gemm loads from.
  host->lim.max_workgroup_storage = 1024;
  WebGpuBackend unstaged(host);
  unstaged.linear(unstaged.upload(HostTensor({2, 150, 64})), unstaged.upload_weight({640, 64}, std::vector<float>(640 * 64)),
                  nullptr);
  ASSERT_EQ(host->dispatches.size(), 5u);
  EXPECT_EQ(host->dispatches[3].bindings, 2u);  // x, packed
  EXPECT_EQ(dim(*host, host->dispatches[3], "PACK_WORDS"), 320u * 64 / 2);
  EXPECT_EQ(host->dispatches[3].x, 320u * 64 / 2 / 256);  // 300 rows packed as 320, a word per invocation
  EXPECT_EQ(host->dispatches[4].bindings, 3u);  // packed, w, y
  EXPECT_NE(host->sources.back().find("@workgroup_size(SG)"), std::string::npos);
  host->lim.max_workgroup_storage = GpuLimits{}.max_workgroup_storage;

  // Reading GEGLU, a staged product still packs: erf once per value, not once per workgroup column.
  gpu.linear(gpu.upload(HostTensor({2, 150, 128})), gpu.upload_weight({640, 64}, std::vector<float>(640 * 64)), &b,
             {.geglu = true});
  ASSERT_EQ(host->dispatches.size(), 7u);
  EXPECT_EQ(host->dispatches[5].bindings, 2u);  // x, packed
  EXPECT_EQ(host->dispatches[6].bindings, 4u);  // packed, w, bias, y
  EXPECT_NE(host->sources.back().find("@workgroup_size(THREADS)"), std::string::npos);
  EXPECT_EQ(host->sources.back().find("gather"), std::string::npos);

  // Splits: enough for the target, no slice under the minimum, no empty slice, within the scratch.
  wgsl::TensorCoreGemmSpec deep = wgsl::tensor_core_spec(wgsl::MatmulSpec{});
  deep.m = 128;
  deep.n = 1280;
  deep.k = 11520;  // 720 steps; 2 × 20 tiles
  deep.pack_rows = 128;
  EXPECT_EQ(wgsl::tensor_core_splits(deep, UINT64_MAX), 52u);  // 2048 / 40 tiles → 52 slices of 14 steps
  EXPECT_EQ(wgsl::tensor_core_splits(deep, 128ull * 1280 * 4 * 3), 3u);
  EXPECT_EQ(wgsl::tensor_core_splits(deep, 0), 1u);
  deep.k = 16 * 17;  // 17 steps: 2 slices (9 + 8)
  EXPECT_EQ(wgsl::tensor_core_splits(deep, UINT64_MAX), 2u);
  deep.m = deep.pack_rows = 64 * 64;
  deep.n = 32 * 64;  // 2048 tiles: no split
  EXPECT_EQ(wgsl::tensor_core_splits(deep, UINT64_MAX), 1u);

  // Staging: the most subgroups whose workgroup memory fits, then the longest chunk; none in 1 KiB.
  wgsl::TensorCoreGemmSpec staged = wgsl::tensor_core_spec(wgsl::MatmulSpec{});
  staged.m = staged.pack_rows = 128;  // 2 × 20 tiles of 64 × 64
  staged.n = 1280;
  staged.k = 16 * 18;
  staged.subgroup = 32;
  wgsl::tensor_core_stage(staged, 48 * 1024);
  EXPECT_EQ(std::tuple(staged.wi, staged.wj, staged.chunk), std::tuple(2u, 2u, 2u));
  EXPECT_EQ(wgsl::tensor_core_gemm_workgroup_bytes(staged), (8u + 8u) * 16 * 40 * 2 + 4 * 1024);
  // 40 subgroups want 52 slices, K allows 2 (of at least 8 steps): 9 steps each rounded to a whole
  // chunk, 10 + 8.
  staged.splits = wgsl::tensor_core_splits(staged, UINT64_MAX);
  EXPECT_EQ(staged.splits, 2u);
  EXPECT_EQ(wgsl::tensor_core_gemm_groups(staged), 10u * 2);
  EXPECT_EQ(wgsl::tensor_core_dims(staged).bytes()[0], 0u);  // P0 first
  EXPECT_NE(wgsl::tensor_core_gemm_source(staged).find("let k_end = min(d.K, k_begin + d.KS);"), std::string::npos);
  staged.splits = 1;
  wgsl::tensor_core_stage(staged, 16 * 1024);
  EXPECT_EQ(std::tuple(staged.wi, staged.wj, staged.chunk), std::tuple(2u, 2u, 1u));
  wgsl::tensor_core_stage(staged, 1024);
  EXPECT_EQ(std::tuple(staged.wi, staged.wj, staged.chunk), std::tuple(1u, 1u, 0u));
  EXPECT_NE(wgsl::tensor_core_gemm_source(staged).find("@workgroup_size(SG)"), std::string::npos);
  staged.subgroup = 128;  // two subgroups at most (256 invocations), and an odd K has no chunks of 2
  staged.k = 16 * 17;
  wgsl::tensor_core_stage(staged, 48 * 1024);
  EXPECT_EQ(std::tuple(staged.wi, staged.wj, staged.chunk), std::tuple(2u, 1u, 1u));
  staged.chunk = 2;  // a chunk that does not divide K
  EXPECT_THROW(wgsl::tensor_core_gemm_source(staged), Error);
  // SD 1.5's level-1 convs: 320 channels are five row tiles of 64, so four subgroups side by side
  // along the pixels (1×4) rather than 1×2.
  wgsl::Conv2dSpec level1;
  level1.batch = 2;
  level1.in_channels = level1.out_channels = 320;
  level1.in_h = level1.in_w = level1.out_h = level1.out_w = 64;
  level1.kernel_h = level1.kernel_w = 3;
  level1.pad_top = level1.pad_left = 1;
  wgsl::TensorCoreGemmSpec conv1 = wgsl::tensor_core_spec(level1);
  conv1.pack_rows = 2 * 64 * 64;
  conv1.subgroup = 32;
  wgsl::tensor_core_stage(conv1, 48 * 1024);
  EXPECT_EQ(std::tuple(conv1.wi, conv1.wj, conv1.chunk), std::tuple(1u, 4u, 2u));

  // Not whole 16s, or a float32 weight: the float32 kernel, one dispatch.
  gpu.linear(gpu.upload(HostTensor({5, 53})), gpu.upload_weight({32, 53}, std::vector<float>(32 * 53)), nullptr);
  EXPECT_EQ(host->dispatches.size(), 8u);
  const std::vector<float> f32_bytes(640 * 320);
  WeightBytes wb{WeightBytes::DType::F32, {reinterpret_cast<const uint8_t*>(f32_bytes.data()), f32_bytes.size() * 4}};
  gpu.linear(x, gpu.upload_weight_bytes({640, 320}, wb), nullptr);
  EXPECT_EQ(host->dispatches.size(), 9u);

  // A staged conv gathers x itself and packs nothing: it runs whole, one dispatch, whatever the
  // binding limit (here 128 pixels' im2col rows; y is split in two halves by it).
  host->lim.max_storage_buffer_binding_size = 128 * 144 * 2;
  WebGpuBackend whole(host);
  size_t before = host->dispatches.size();
  Tensor cx = whole.upload(HostTensor({2, 16, 16, 16}));
  Tensor cw = whole.upload_weight({32, 16, 3, 3}, std::vector<float>(32 * 144));
  EXPECT_EQ(whole.conv2d(cx, cw, nullptr, Conv2dParams::same(1)).shape, (Shape{2, 32, 16, 16}));
  ASSERT_EQ(host->dispatches.size() - before, 1u);
  EXPECT_EQ(host->dispatches.back().bindings, 2u + 2u);  // x, w, y in two halves
  EXPECT_EQ(host->dispatches.back().x, 4u);  // all 512 pixels in one grid: 4 workgroups of 128
  // Cout 3: the float32 kernel.
  whole.conv2d(cx, whole.upload_weight({3, 16, 3, 3}, std::vector<float>(3 * 144)), nullptr, Conv2dParams::same(1));
  EXPECT_EQ(host->dispatches.size() - before, 2u);

  // Unstaged (no staged layout fits 1 KiB of workgroup memory), the conv packs its im2col rows, and
  // a packed matrix over the binding limit runs over ranges of 128 pixels: a pack and a gemm each.
  host->lim.max_workgroup_storage = 1024;
  WebGpuBackend ranged(host);
  before = host->dispatches.size();
  ranged.conv2d(ranged.upload(HostTensor({2, 16, 16, 16})), ranged.upload_weight({32, 16, 3, 3}, std::vector<float>(32 * 144)),
                nullptr, Conv2dParams::same(1));
  ASSERT_EQ(host->dispatches.size() - before, 8u);
  for (size_t i = before; i < host->dispatches.size(); i += 2) {
    EXPECT_EQ(host->dispatches[i].bindings, 2u);           // x, the packed matrix
    EXPECT_EQ(host->dispatches[i + 1].bindings, 2u + 2u);  // packed, w, y in two halves
    EXPECT_EQ(host->dispatches[i + 1].x, 2u);  // a subgroup per workgroup: 32 channels × 64 pixels each
  }

  // Where the limit does not divide the pixels, the ranges are as even as pairs of units allow:
  // 320 rows' worth gives two ranges of 256 pixels, not one of 320 and one of 192 padded to 320.
  host->lim.max_storage_buffer_binding_size = 320 * 144 * 2;
  WebGpuBackend even(host);
  const size_t at_even = host->dispatches.size();
  even.conv2d(even.upload(HostTensor({2, 16, 16, 16})), even.upload_weight({32, 16, 3, 3}, std::vector<float>(32 * 144)),
              nullptr, Conv2dParams::same(1));
  ASSERT_EQ(host->dispatches.size() - at_even, 4u);
  EXPECT_EQ(host->dispatches[at_even + 1].x, 4u);  // 256 pixels
  EXPECT_EQ(host->dispatches[at_even + 3].x, 4u);

  host->lim = GpuLimits{};  // no tensor cores
  WebGpuBackend plain(host);
  before = host->dispatches.size();
  plain.linear(plain.upload(HostTensor({2, 77, 320})), plain.upload_weight({640, 320}, std::vector<float>(640 * 320)), nullptr);
  EXPECT_EQ(host->dispatches.size() - before, 1u);
  EXPECT_EQ(host->sources.back().find("subgroup"), std::string::npos);

  // Attention: three packs (q, k, v to float16) and the kernel; two query tiles where workgroup
  // memory allows (48 KiB), one at WebGPU's default 16 KiB, the float32 kernel for wide heads.
  host->lim.tensor_cores = true;
  host->lim.subgroup_size = 32;
  host->lim.max_workgroup_storage = 49152;
  WebGpuBackend att(host);
  Tensor q = att.upload(HostTensor({2, 100, 320}));
  Tensor kv = att.upload(HostTensor({2, 77, 320}));
  size_t at = host->dispatches.size();
  EXPECT_EQ(att.attention(q, kv, kv, 8, false).shape, (Shape{2, 100, 320}));
  ASSERT_EQ(host->dispatches.size() - at, 4u);
  EXPECT_EQ(host->dispatches.back().bindings, 4u);
  EXPECT_EQ(host->dispatches.back().x, 16u * 4);  // 2·8 heads × 4 blocks of 32 queries
  EXPECT_NE(host->sources.back().find("const BQ: u32 = 32u;"), std::string::npos);
  host->lim.max_workgroup_storage = 16384;
  WebGpuBackend small(host);
  at = host->dispatches.size();
  small.attention(small.upload(HostTensor({2, 100, 320})), small.upload(HostTensor({2, 77, 320})),
                  small.upload(HostTensor({2, 77, 320})), 8, false);
  EXPECT_EQ(host->dispatches.back().x, 16u * 7);  // blocks of 16 queries
  small.attention(small.upload(HostTensor({1, 64, 512})), small.upload(HostTensor({1, 64, 512})),
                  small.upload(HostTensor({1, 64, 512})), 1, false);
  EXPECT_EQ(host->dispatches.size() - at, 5u);  // the VAE's 512-wide head: one float32 dispatch

  // Four subgroups per workgroup (two of 128 lanes); a query row's lanes share the softmax.
  wgsl::AttentionSpec sd15;
  sd15.batch = 2;
  sd15.heads = 8;
  sd15.lq = sd15.lk = 4096;
  sd15.head_dim = sd15.value_dim = 40;
  wgsl::TensorCoreAttentionSpec tc = wgsl::tensor_core_spec(sd15);
  const auto lanes = [&](uint32_t width, uint32_t tiles) {
    tc.subgroup = width;
    tc.query_tiles = tiles;
    return wgsl::tensor_core_attention_lanes_per_row(tc);
  };
  EXPECT_EQ(lanes(32, 2), 4u);   // 128 lanes over 32 rows
  EXPECT_EQ(lanes(32, 1), 8u);
  EXPECT_EQ(lanes(64, 2), 8u);   // 256 lanes
  EXPECT_EQ(lanes(128, 2), 8u);  // two subgroups
  EXPECT_EQ(lanes(8, 2), 1u);
  EXPECT_EQ(lanes(4, 2), 0u);    // 16 lanes for 32 rows: no kernel
  EXPECT_EQ(lanes(48, 2), 0u);
  EXPECT_EQ(lanes(0, 2), 0u);
  EXPECT_THROW(wgsl::tensor_core_attention_source(tc), Error);
  tc.subgroup = 32;
  tc.query_tiles = 2;
  // Scores f32 and probabilities f16 of 32 × 64, the 32 × 48 output block and a spare tile (6
  // output tiles for 4 subgroups).
  EXPECT_EQ(wgsl::tensor_core_attention_workgroup_bytes(tc), 32u * 64 * 6 + 32 * 48 * 4 + 1024);
  const std::string tc_src = wgsl::tensor_core_attention_source(tc);
  EXPECT_NE(tc_src.find("@workgroup_size(SUBGROUPS * SG)"), std::string::npos);
  EXPECT_NE(tc_src.find("const SUBGROUPS: u32 = 4u;"), std::string::npos);
  EXPECT_NE(tc_src.find("const ROUNDS: u32 = 2u;"), std::string::npos);
  EXPECT_NE(tc_src.find("select(BQ * DVP"), std::string::npos);
  tc.head_dim = tc.value_dim = 64;  // 8 output tiles: no spare
  EXPECT_EQ(wgsl::tensor_core_attention_workgroup_bytes(tc), 32u * 64 * 6 + 32 * 64 * 4);
  EXPECT_EQ(wgsl::tensor_core_attention_source(tc).find("select(BQ * DVP"), std::string::npos);
  tc.head_dim = tc.value_dim = 512;  // the VAE's: 128 keys a block, keys padded to 128
  tc.query_tiles = 1;
  EXPECT_EQ(wgsl::tensor_core_attention_workgroup_bytes(tc), 16u * 128 * 6 + 16 * 512 * 4);
  EXPECT_NE(wgsl::tensor_core_attention_source(tc).find("const BK: u32 = 128u;"), std::string::npos);
  tc.lk = 77;
  EXPECT_EQ(wgsl::tensor_core_pack_k(tc).length_pad, 128u);

  wgsl::TensorCoreGemmSpec bad;
  bad.k = 32;
  bad.n = 32;
  bad.pack_rows = 48;  // not a multiple of 64
  test::expect_error_naming([&] { wgsl::tensor_core_gemm_source(bad); }, {"tensor-core linear: no kernel for K 32"});
  EXPECT_FALSE(wgsl::tensor_core_gemm_fits(36, 320));
  EXPECT_FALSE(wgsl::tensor_core_gemm_fits(320, 8));
}

TEST(WebGpuBackend, Conv2dChecksShapesAndWrapsItsGrid) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({2, 13, 17, 23}));
  Tensor w = gpu.upload_weight({29, 13, 3, 3}, std::vector<float>(29 * 13 * 9));
  Tensor b = gpu.upload(HostTensor({29}));
  EXPECT_EQ(gpu.conv2d(x, w, &b, Conv2dParams::same(1)).shape, (Shape{2, 29, 17, 23}));
  const Dispatch d = host->dispatches.back();
  EXPECT_EQ(d.bindings, 4u);
  EXPECT_EQ(std::tuple(dim(*host, d, "COUT"), dim(*host, d, "OH"), dim(*host, d, "PAD_T")), std::tuple(29u, 17u, 1u));
  EXPECT_EQ(d.x, 7u);  // 32 channels × 128 pixels per tile, 782 pixels
  EXPECT_EQ(d.y, 1u);
  // The VAE's downsampler: stride 2, padded only below and right.
  EXPECT_EQ(gpu.conv2d(x, w, nullptr, {2, 0, 1, 0, 1}).shape, (Shape{2, 29, 8, 11}));
  EXPECT_EQ(host->dispatches.back().bindings, 3u);
  EXPECT_EQ(gpu.stats().pipelines, 2u);
  gpu.conv2d(x, w, &b, Conv2dParams::same(1));
  EXPECT_EQ(gpu.stats().pipelines, 2u);

  Tensor w_bad = gpu.upload(HostTensor({29, 12, 3, 3}));
  test::expect_error_naming([&] { gpu.conv2d(x, w_bad, nullptr, {}); }, {"webgpu backend: conv2d: weight [29, 12, 3, 3] does not match input"});
  Tensor b_bad = gpu.upload(HostTensor({28}));
  test::expect_error_naming([&] { gpu.conv2d(x, w, &b_bad, {}); }, {"conv2d: bias [28] does not match weight"});
  test::expect_error_naming([&] { gpu.conv2d(x, w, nullptr, {0, 0, 0, 0, 0}); }, {"conv2d: stride 0 must be positive"});
  test::expect_error_naming([&] { gpu.conv2d(x, w, nullptr, {1, -1, 0, 0, 0}); }, {"padding non-negative"});
  Tensor tiny = gpu.upload(HostTensor({1, 13, 2, 2}));
  test::expect_error_naming([&] { gpu.conv2d(tiny, w, nullptr, {}); }, {"is larger than the padded input"});

  host->lim.max_workgroups_per_dimension = 3;
  WebGpuBackend narrow(host);
  narrow.conv2d(narrow.upload(HostTensor({2, 13, 17, 23})), narrow.upload(HostTensor({29, 13, 3, 3})), nullptr,
                Conv2dParams::same(1));
  EXPECT_EQ(host->dispatches.back().x, 3u);  // 7 tiles in rows of 3
  EXPECT_EQ(host->dispatches.back().y, 3u);
  EXPECT_EQ(dim(*host, host->dispatches.back(), "GROUPS_X"), 3u);
}

TEST(WebGpuBackend, AttentionChecksShapesAndWrapsItsGrid) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor q = gpu.upload(HostTensor({2, 37, 80}));
  Tensor kv = gpu.upload(HostTensor({2, 77, 80}));
  EXPECT_EQ(gpu.attention(q, kv, kv, 2, false).shape, (Shape{2, 37, 80}));
  const Dispatch d = host->dispatches.back();
  EXPECT_EQ(d.bindings, 4u);
  EXPECT_EQ(d.x, 4u);  // one 64-query block × 2 batches × 2 heads
  EXPECT_EQ(d.y, 1u);
  gpu.attention(q, kv, kv, 2, true);
  EXPECT_EQ(gpu.stats().pipelines, 2u);  // causal is a kernel of its own
  // Values may be wider than queries and keys, as in the CPU backend.
  Tensor v_wide = gpu.upload(HostTensor({2, 77, 160}));
  EXPECT_EQ(gpu.attention(q, kv, v_wide, 2, false).shape, (Shape{2, 37, 160}));
  const size_t dispatched = host->dispatches.size();
  EXPECT_EQ(gpu.attention(gpu.upload(HostTensor({2, 0, 80})), kv, kv, 2, false).shape, (Shape{2, 0, 80}));
  EXPECT_EQ(host->dispatches.size(), dispatched);  // nothing to compute

  test::expect_error_naming([&] { gpu.attention(q, kv, kv, 0, false); }, {"webgpu backend: attention: 0 heads"});
  test::expect_error_naming([&] { gpu.attention(q, kv, kv, 3, false); }, {"do not fit 3 heads"});
  test::expect_error_naming([&] { gpu.attention(q, gpu.upload(HostTensor({1, 77, 80})), kv, 2, false); }, {"do not fit 2 heads"});
  test::expect_error_naming([&] { gpu.attention(q, kv, gpu.upload(HostTensor({2, 76, 80})), 2, false); }, {"do not fit 2 heads"});
  Tensor none = gpu.upload(HostTensor({2, 0, 80}));
  test::expect_error_naming([&] { gpu.attention(q, none, none, 2, false); }, {"has no keys to attend to"});
  Tensor wide = gpu.upload(HostTensor({1, 4, 2050}));
  test::expect_error_naming([&] { gpu.attention(wide, wide, wide, 2, false); }, {"use more heads"});

  host->lim.max_workgroups_per_dimension = 3;
  WebGpuBackend narrow(host);
  narrow.attention(narrow.upload(HostTensor({2, 37, 80})), narrow.upload(HostTensor({2, 77, 80})),
                   narrow.upload(HostTensor({2, 77, 80})), 2, false);
  EXPECT_EQ(host->dispatches.back().x, 3u);  // 4 workgroups in rows of 3
  EXPECT_EQ(host->dispatches.back().y, 2u);
}

TEST(WebGpuBackend, NormsDispatchOneWorkgroupPerRow) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({2, 64, 17, 13}));
  Tensor g = gpu.upload(HostTensor({64})), b = gpu.upload(HostTensor({64}));
  Tensor y = gpu.group_norm(x, g, b, 32, 1e-5f, true);
  EXPECT_EQ(y.shape, x.shape);
  const Dispatch& d = host->dispatches.back();
  EXPECT_EQ(d.x, 64u);  // one workgroup per (batch, group)
  EXPECT_EQ(d.y, 1u);
  EXPECT_EQ(d.bindings, 4u);
  EXPECT_EQ(dim(*host, d, "EPS"), bits(1e-5f));
  EXPECT_EQ(dim(*host, d, "SIZE"), 442u);
  EXPECT_NE(host->sources.back().find("const WG: u32 = 256u;"), std::string::npos);
  EXPECT_NE(host->sources.back().find("exp(-v)"), std::string::npos);
  gpu.group_norm(x, g, b, 32, 1e-6f, true);  // eps is a uniform: same pipeline
  EXPECT_EQ(gpu.stats().pipelines, 1u);
  gpu.group_norm(x, g, b, 32, 1e-6f, false);
  EXPECT_EQ(gpu.stats().pipelines, 2u);
  EXPECT_THROW(gpu.group_norm(x, g, b, 3, 1e-5f, false), Error);
  EXPECT_THROW(gpu.group_norm(x, gpu.upload(HostTensor({32})), b, 32, 1e-5f, false), Error);
  // Handed its only reference, x is normalised in place: y is x's buffer, bound read-write, and
  // no x binding; whole rows and in chunks (whose row's first value then comes from the stats).
  for (const Shape& shape : {Shape{2, 64, 17, 13}, Shape{1, 64, 47, 45}}) {
    Tensor mine = gpu.upload(HostTensor(shape));
    const DeviceBuffer* storage = mine.buffer.get();
    const int64_t held = gpu.stats().live_bytes;
    const Tensor z = gpu.group_norm(std::move(mine), g, b, 32, 1e-5f, true);
    EXPECT_EQ(z.buffer.get(), storage);
    const Dispatch& norm = host->dispatches.back();
    const std::string& src = host->source_of.at(norm.pipeline);
    EXPECT_EQ(src.find("x_0"), std::string::npos);
    EXPECT_NE(src.find("var<storage, read_write> y_0"), std::string::npos);
    EXPECT_NE(src.find("fn load_x(i: u32) -> f32 { return load_y(i); }"), std::string::npos);
    if (shape[2] == 47) {  // the stats kernel read x, the norm kernel writes the same buffer
      const Dispatch& stats = host->dispatches[host->dispatches.size() - 2];
      EXPECT_EQ(norm.bindings, 4u);
      EXPECT_EQ(stats.binding_buffers.front(), norm.binding_buffers.back());
      EXPECT_NE(src.find("let shift = stats[first * STATS + 1u];"), std::string::npos);
    } else {
      EXPECT_EQ(norm.bindings, 3u);
      EXPECT_EQ(gpu.stats().live_bytes, held);  // nothing allocated
    }
  }
  Tensor s = gpu.upload(HostTensor({3, 77, 33}));
  Tensor g33 = gpu.upload(HostTensor({33}));
  EXPECT_EQ(gpu.layer_norm(s, g33, g33, 1e-5f).shape, s.shape);
  EXPECT_EQ(host->dispatches.back().x, 231u);
  EXPECT_NE(host->sources.back().find("const WG: u32 = 64u;"), std::string::npos);  // 33 values: 64 invocations, not 256
  EXPECT_THROW(gpu.layer_norm(s, g, g, 1e-5f), Error);
  host->lim.max_workgroups_per_dimension = 100;
  WebGpuBackend small(host);
  small.layer_norm(small.upload(HostTensor({3, 77, 33})), small.upload(HostTensor({33})), small.upload(HostTensor({33})), 1e-5f);
  EXPECT_EQ(host->dispatches.back().x, 100u);
  EXPECT_EQ(host->dispatches.back().y, 3u);
  wgsl::NormSpec bad;
  bad.rows = 4;
  bad.row_size = 10;
  bad.spatial = 3;
  EXPECT_THROW(wgsl::norm_source(bad), Error);
  bad.spatial = 1;
  bad.chunks = 11;  // more chunks than values
  EXPECT_THROW(wgsl::norm_stats_source(bad), Error);
}

// Few long rows split into chunks: a stats dispatch, then the norm dispatch reading its scratch.
TEST(WebGpuBackend, LongNormRowsSplitIntoChunks) {
  EXPECT_EQ(wgsl::norm_chunks(32, 4230), 4u);        // 4 chunks of at least 1024 (1058, the last 1056)
  EXPECT_EQ(wgsl::norm_chunks(32, 1048576), 32u);    // the VAE at 512×512: 1024 workgroups
  EXPECT_EQ(wgsl::norm_chunks(64, 40960), 16u);      // the UNet's 64×64 level, batch 2
  EXPECT_EQ(wgsl::norm_chunks(8192, 320), 1u);       // layer_norm: a workgroup per row already
  EXPECT_EQ(wgsl::norm_chunks(4, 1000), 1u);         // shorter than a chunk
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  Tensor x = gpu.upload(HostTensor({1, 64, 47, 45}));
  Tensor g = gpu.upload(HostTensor({64})), b = gpu.upload(HostTensor({64}));
  EXPECT_EQ(gpu.group_norm(x, g, b, 32, 1e-5f, true).shape, x.shape);
  ASSERT_EQ(host->dispatches.size(), 2u);
  EXPECT_EQ(host->dispatches[0].x, 32u * 4);
  EXPECT_EQ(host->dispatches[0].bindings, 2u);  // x, stats
  EXPECT_EQ(dim(*host, host->dispatches[0], "CHUNK"), 1058u);
  EXPECT_EQ(host->dispatches[1].x, 32u * 4);
  EXPECT_EQ(host->dispatches[1].bindings, 5u);  // x, gamma, beta, stats, y
  EXPECT_EQ(dim(*host, host->dispatches[1], "CHUNKS"), 4u);
  EXPECT_NE(host->sources[0].find("stats[(first + c) * STATS + 2u]"), std::string::npos);  // the norm's pipeline first
  EXPECT_EQ(wgsl::norm_workgroup({.rows = 8, .row_size = 32}), 32u);
  EXPECT_EQ(wgsl::norm_workgroup({.rows = 8, .row_size = 20}), 32u);  // never under 32
  EXPECT_EQ(wgsl::norm_workgroup({.rows = 8, .row_size = 4096, .chunks = 32}), 128u);
  EXPECT_NE(host->sources[1].find("stats[index * STATS + 2u] = m2;"), std::string::npos);
  EXPECT_NE(host->sources[1].find("const STATS: u32 = 3u;"), std::string::npos);
}


// Little-endian float16 bits of values, padded to whole 4-byte words as artifact shards store them.
std::vector<uint8_t> f16_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> out((values.size() + 1) / 2 * 4, 0);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = f32_to_f16(values[i]);
    out[2 * i] = static_cast<uint8_t>(h & 0xff);
    out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
  std::vector<uint8_t> out(values.size() * 4);
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// The one buffer a small tensor lives in.
const std::vector<uint8_t>& only_buffer(const FakeHost& host, size_t before) {
  EXPECT_EQ(host.buffers.size(), before + 1);
  return host.buffers.rbegin()->second;  // ids grow: the newest buffer
}

TEST(WebGpuBackend, WeightBytesRoundTripExactly) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  const std::vector<float> halves{1.5f, -2.0f, 65504.0f, -0.0009765625f, 0.333251953125f, 5.9604644775390625e-08f};  // exact in float16
  const std::vector<uint8_t> h = f16_bytes(halves);
  Tensor a = gpu.upload_weight_bytes({2, 3}, {WeightBytes::DType::F16, h, 0, 0});
  EXPECT_EQ(only_buffer(*host, 0), h);  // stored as they came: no conversion on the way
  EXPECT_EQ(gpu.download(a), halves);
  const std::vector<float> singles{0.1f, -1e-30f, 3.14159274f, 1e30f};  // not float16 values: kept as float32
  const std::vector<uint8_t> f = f32_bytes(singles);
  Tensor b = gpu.upload_weight_bytes({4}, {WeightBytes::DType::F32, f, 0, 0});
  EXPECT_EQ(only_buffer(*host, 1), f);
  EXPECT_EQ(gpu.download(b), singles);
  EXPECT_TRUE(host->staged_writes.empty());
}

TEST(WebGpuBackend, WeightBytesOfAnOddCountFillTheLastWord) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  const std::vector<float> v{1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  std::vector<uint8_t> h = f16_bytes(v);
  ASSERT_EQ(h.size(), 12u);
  h[10] = 0xAB;  // the padding half: copied with its word, never read
  h[11] = 0xCD;
  Tensor t = gpu.upload_weight_bytes({5}, {WeightBytes::DType::F16, h, 0, 0});
  EXPECT_EQ(only_buffer(*host, 0), h);
  EXPECT_EQ(gpu.download(t), v);
  // The bytes must cover the last whole word; 10 bytes for 5 halves says how many it needs.
  const std::vector<uint8_t> unpadded(h.begin(), h.begin() + 10);
  try {
    gpu.upload_weight_bytes({5}, {WeightBytes::DType::F16, unpadded, 0, 0});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("10 bytes for 12 bytes of weight [5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gpu.upload_weight_bytes({4}, {WeightBytes::DType::F32, f32_bytes({1, 2, 3}), 0, 0}), Error);
}

// A shard the host holds under staging id 7: a float16 tensor at 0, a float32 one at 64.
TEST(WebGpuBackend, StagedWeightBytesLandAtTheirOffsets) {
  auto host = std::make_shared<FakeHost>();
  WebGpuBackend gpu(host);
  const std::vector<float> halves{0.5f, -0.25f, 8.0f};
  const std::vector<float> singles{0.1f, 0.2f, -0.3f, 1e-20f};
  std::vector<uint8_t> shard(128, 0xEE);
  const std::vector<uint8_t> h = f16_bytes(halves), f = f32_bytes(singles);
  std::copy(h.begin(), h.end(), shard.begin());
  std::copy(f.begin(), f.end(), shard.begin() + 64);
  host->staged[7] = shard;
  Tensor a = gpu.upload_weight_bytes({3}, {WeightBytes::DType::F16, {}, 7, 0});
  const uint32_t a_id = host->buffers.rbegin()->first;
  Tensor b = gpu.upload_weight_bytes({2, 2}, {WeightBytes::DType::F32, {}, 7, 64});
  const uint32_t b_id = host->buffers.rbegin()->first;
  ASSERT_EQ(host->staged_writes.size(), 2u);
  EXPECT_EQ(host->staged_writes[0].buffer, a_id);
  EXPECT_EQ(host->staged_writes[0].offset, 0u);
  EXPECT_EQ(host->staged_writes[0].staged, 7u);
  EXPECT_EQ(host->staged_writes[0].staged_offset, 0u);
  EXPECT_EQ(host->staged_writes[0].bytes, 8u);  // 3 halves in two words, the padding from the shard
  EXPECT_EQ(host->staged_writes[1].buffer, b_id);
  EXPECT_EQ(host->staged_writes[1].staged_offset, 64u);
  EXPECT_EQ(host->staged_writes[1].bytes, 16u);
  EXPECT_EQ(host->buffers.at(a_id), std::vector<uint8_t>(shard.begin(), shard.begin() + 8));
  EXPECT_EQ(host->buffers.at(b_id), f);
  EXPECT_EQ(gpu.download(a), halves);
  EXPECT_EQ(gpu.download(b), singles);
}

// Tensors larger than maxStorageBufferBindingSize (1 KiB here: 512 halves or 256 floats a chunk),
// from host bytes and from staged bytes: each chunk gets its own run of the weight's bytes.
TEST(WebGpuBackend, WeightBytesSplitChunkByChunk) {
  auto host = std::make_shared<FakeHost>();
  host->lim.max_storage_buffer_binding_size = 1024;
  WebGpuBackend gpu(host);
  std::vector<float> halves(1201);  // 512 + 512 + 177: an odd last chunk
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<float>(static_cast<int>(i % 1000) - 500) / 4.0f;
  const std::vector<uint8_t> h = f16_bytes(halves);
  ASSERT_EQ(h.size(), 2404u);
  std::vector<Tensor> alive;  // so the second upload takes fresh buffers, not the first's from the pool
  for (int staged : {0, 1}) {
    const size_t before = host->buffers.size();
    host->staged_writes.clear();
    uint64_t base = 0;
    WeightBytes bytes{WeightBytes::DType::F16, h, 0, 0};
    if (staged) {
      base = 256;  // the tensor starts 256 bytes into its shard
      std::vector<uint8_t> shard(base, 0);
      shard.insert(shard.end(), h.begin(), h.end());
      host->staged[3] = shard;
      bytes = {WeightBytes::DType::F16, {}, 3, base};
    }
    Tensor t = gpu.upload_weight_bytes({1201}, bytes);
    ASSERT_EQ(host->buffers.size(), before + 3) << "staged " << staged;
    std::vector<uint32_t> ids;
    for (auto it = std::next(host->buffers.begin(), static_cast<std::ptrdiff_t>(before)); it != host->buffers.end(); ++it)
      ids.push_back(it->first);
    const std::vector<std::pair<size_t, size_t>> runs{{0, 1024}, {1024, 1024}, {2048, 356}};  // 177 halves: 89 words
    for (size_t c = 0; c < 3; ++c) {
      const auto [first, size] = runs[c];
      EXPECT_EQ(host->buffers.at(ids[c]), std::vector<uint8_t>(h.begin() + first, h.begin() + first + size)) << "chunk " << c;
      if (staged) {
        ASSERT_EQ(host->staged_writes.size(), 3u);
        EXPECT_EQ(host->staged_writes[c].buffer, ids[c]);
        EXPECT_EQ(host->staged_writes[c].offset, 0u);
        EXPECT_EQ(host->staged_writes[c].staged_offset, base + first);
        EXPECT_EQ(host->staged_writes[c].bytes, size);
      }
    }
    EXPECT_EQ(gpu.download(t), halves) << "staged " << staged;
    alive.push_back(t);
  }
  // float32: 600 values are 256 + 256 + 88.
  std::vector<float> singles(600);
  for (size_t i = 0; i < singles.size(); ++i) singles[i] = 0.1f * static_cast<float>(i) - 7.0f;
  const std::vector<uint8_t> f = f32_bytes(singles);
  host->staged[4] = f;
  host->staged_writes.clear();
  Tensor s = gpu.upload_weight_bytes({600}, {WeightBytes::DType::F32, {}, 4, 0});
  ASSERT_EQ(host->staged_writes.size(), 3u);
  const uint64_t offsets[] = {0, 1024, 2048}, sizes[] = {1024, 1024, 352};
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(host->staged_writes[c].staged_offset, offsets[c]);
    EXPECT_EQ(host->staged_writes[c].bytes, sizes[c]);
  }
  EXPECT_EQ(gpu.download(s), singles);
  Tensor from_host = gpu.upload_weight_bytes({600}, {WeightBytes::DType::F32, f, 0, 0});
  EXPECT_EQ(gpu.download(from_host), singles);
}

TEST(WebGpuBackend, StagedWeightBytesNeedAHostThatKeepsThem) {
  auto host = std::make_shared<FakeHost>();
  host->keeps_staged = false;
  WebGpuBackend gpu(host);
  try {
    gpu.upload_weight_bytes({4}, {WeightBytes::DType::F16, {}, 9, 0});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("staging id 9: this host keeps no staged bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace websd
