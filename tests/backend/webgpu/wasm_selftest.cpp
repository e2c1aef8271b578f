// The WebGPU backend against the CPU backend on a real device, from inside the wasm module:
// tests/web/webgpu/backend.test.mjs installs an initialised JS GPU host (Node + Dawn) and calls
// websd_webgpu_selftest() through ccall({async: true}), since reading a buffer suspends the module.
// Returns a JSON report: {"cases": [{"name", "maxErr", "tol", "ok", "detail"}]}.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <sstream>

#include "backend/cpu/cpu_backend.h"
#include "backend/webgpu/js_gpu_host.h"
#include "backend/webgpu/device_report.h"
#include "backend/webgpu/webgpu_backend.h"
#include "core/error.h"
#include "core/half.h"

namespace websd {
namespace {

// Reports smaller limits than the device has: a smaller workgroup grid, so a million-value
// elementwise op already has to wrap its dispatch into several rows; a smaller
// maxStorageBufferBindingSize, so modest tensors take the split-buffer path.
class LimitedHost : public GpuHost {
 public:
  LimitedHost(std::shared_ptr<GpuHost> inner, uint32_t max_groups, uint64_t max_binding = 0)
      : inner_(std::move(inner)), max_(max_groups), max_binding_(max_binding) {}
  uint32_t create_buffer(uint64_t bytes) override { return inner_->create_buffer(bytes); }
  void destroy_buffer(uint32_t id) noexcept override { inner_->destroy_buffer(id); }
  void write_buffer(uint32_t id, uint64_t o, std::span<const uint8_t> b) override { inner_->write_buffer(id, o, b); }
  uint32_t create_pipeline(const std::string& w, const std::string& e) override { return inner_->create_pipeline(w, e); }
  void dispatch(uint32_t p, std::span<const GpuBinding> b, std::span<const uint8_t> u, uint32_t x, uint32_t y,
                uint32_t z) override {
    inner_->dispatch(p, b, u, x, y, z);
  }
  void flush() override { inner_->flush(); }
  std::vector<uint8_t> read_buffer(uint32_t id, uint64_t o, uint64_t n) override { return inner_->read_buffer(id, o, n); }
  GpuLimits limits() const override {
    GpuLimits l = inner_->limits();
    l.max_workgroups_per_dimension = std::min(l.max_workgroups_per_dimension, max_);
    if (max_binding_) l.max_storage_buffer_binding_size = max_binding_;
    return l;
  }

 private:
  std::shared_ptr<GpuHost> inner_;
  uint32_t max_;
  uint64_t max_binding_;
};

uint32_t gpu_limits(const GpuHost& h) { return h.limits().max_workgroups_per_dimension; }

HostTensor random(Shape shape, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  HostTensor t(std::move(shape));
  for (float& v : t.data) v = d(gen);
  return t;
}

// Weights as checkpoints have them: exact in float16, so the GPU's float16 copy loses nothing and
// the CPU backend (which keeps float32) sees the same values.
HostTensor weight(Shape shape, float lo, float hi, uint32_t seed) {
  HostTensor t = random(std::move(shape), lo, hi, seed);
  for (float& v : t.data) v = f16_to_f32(f32_to_f16(v));
  return t;
}

using device_test::Report;

// relative: |gpu − cpu| / max(|cpu|, 1); otherwise absolute.
void compare(Report& r, const std::string& name, double tol, bool relative, const std::function<Tensor(Backend&)>& op,
             CpuBackend& cpu, WebGpuBackend& gpu) {
  try {
    const std::vector<float> want = cpu.download(op(cpu));
    const std::vector<float> got = gpu.download(op(gpu));
    if (want.size() != got.size()) throw Error("sizes differ");
    const double worst = device_test::diff(got, want, relative).max;
    r.add(name, worst, tol, worst <= tol, std::to_string(want.size()) + " values");
  } catch (const std::exception& e) {
    r.add(name, -1, tol, false, e.what());
  }
}

// A host failure must come back as websd::Error with the host's message.
void expect_error(Report& r, const std::string& name, const std::string& needle, const std::function<void()>& f) {
  try {
    f();
    r.add(name, 0, 0, false, "no error");
  } catch (const Error& e) {
    const std::string m = e.what();
    r.add(name, 0, 0, m.find(needle) != std::string::npos, m);
  } catch (const std::exception& e) {
    r.add(name, 0, 0, false, std::string("not a websd::Error: ") + e.what());
  }
}

// The kernels against the CPU backend on odd sizes; weights (w, gamma, beta, the embedding table)
// go up as float16 with upload_weight, as the models upload theirs.
void kernel_cases(Report& r, CpuBackend& cpu, WebGpuBackend& gpu, const std::string& tag) {
  const HostTensor x3 = random({3, 37, 53}, -1, 1, 3);
  const HostTensor w = weight({29, 53}, -1, 1, 4);
  const HostTensor bias = weight({29}, -1, 1, 5);
  const HostTensor a = random({5, 3, 17}, -4, 4, 6);
  const HostTensor b = random({3, 17}, -4, 4, 7);
  compare(r, "add [5,3,17] + [3,17]" + tag, 1e-5, true, [&](Backend& be) { return be.add(be.upload(a), be.upload(b)); }, cpu, gpu);
  compare(r, "linear [3,37,53] x [29,53] + bias" + tag, 1e-5, true, [&](Backend& be) {
    const Tensor bb = be.upload_weight(bias.shape, bias.data);
    return be.linear(be.upload(x3), be.upload_weight(w.shape, w.data), &bb);
  }, cpu, gpu);
  compare(r, "linear [3,37,53] x [29,53] no bias" + tag, 1e-5, true,
          [&](Backend& be) { return be.linear(be.upload(x3), be.upload(w), nullptr); }, cpu, gpu);
  const HostTensor x2 = random({300, 129}, -1, 1, 8), w2 = weight({65, 129}, -1, 1, 9);
  compare(r, "linear [300,129] x [65,129]" + tag, 1e-5, true,
          [&](Backend& be) { return be.linear(be.upload(x2), be.upload_weight(w2.shape, w2.data), nullptr); }, cpu, gpu);

  const HostTensor img = random({2, 64, 17, 13}, -3, 3, 11), img2 = random({2, 5, 17, 13}, -3, 3, 12);
  const HostTensor chan = random({2, 64}, -2, 2, 13);
  compare(r, "add_channel [2,64,17,13] + [2,64]" + tag, 1e-5, true,
          [&](Backend& be) { return be.add_channel(be.upload(img), be.upload(chan)); }, cpu, gpu);
  const HostTensor gx = random({3, 7, 2 * 45}, -5, 5, 14);
  compare(r, "geglu [3,7,90]" + tag, 1e-5, true, [&](Backend& be) { return be.geglu(be.upload(gx)); }, cpu, gpu);
  compare(r, "nchw_to_nlc [2,64,17,13]" + tag, 0, false, [&](Backend& be) { return be.nchw_to_nlc(be.upload(img)); }, cpu, gpu);
  const HostTensor seq = random({2, 17 * 13, 33}, -3, 3, 15);
  compare(r, "nlc_to_nchw [2,221,33] -> 17x13" + tag, 0, false,
          [&](Backend& be) { return be.nlc_to_nchw(be.upload(seq), 17, 13); }, cpu, gpu);
  compare(r, "upsample_nearest [2,5,17,13] -> 34x26" + tag, 0, false,
          [&](Backend& be) { return be.upsample_nearest(be.upload(img2), 34, 26); }, cpu, gpu);
  compare(r, "upsample_nearest [2,5,17,13] -> 23x40" + tag, 0, false,
          [&](Backend& be) { return be.upsample_nearest(be.upload(img2), 23, 40); }, cpu, gpu);
  compare(r, "upsample_nearest [2,5,17,13] -> 7x5 (down)" + tag, 0, false,
          [&](Backend& be) { return be.upsample_nearest(be.upload(img2), 7, 5); }, cpu, gpu);
  compare(r, "concat_channels [2,64,17,13] + [2,5,17,13]" + tag, 0, false,
          [&](Backend& be) { return be.concat_channels(be.upload(img), be.upload(img2)); }, cpu, gpu);
  const HostTensor table = weight({1100, 33}, -3, 3, 16);
  const std::vector<int> ids{0, 1099, 7, 7, 13, 1, 30, 993};
  compare(r, "embedding [1100,33] x 8 ids" + tag, 0, false, [&](Backend& be) { return be.embedding(be.upload_weight(table.shape, table.data), ids); },
          cpu, gpu);
  const HostTensor g64 = weight({64}, 0.5, 1.5, 17), b64 = weight({64}, -1, 1, 18);
  for (bool silu : {false, true}) {
    const std::string tag = silu ? " + silu" : "";
    compare(r, "group_norm [2,64,17,13] 32 groups" + tag, 1e-5, true, [&](Backend& be) {
      return be.group_norm(be.upload(img), be.upload_weight(g64.shape, g64.data), be.upload_weight(b64.shape, b64.data), 32, 1e-5f, silu);
    }, cpu, gpu);
  }
  // A large mean against a small spread (the VAE's activations), and a 3-D input.
  HostTensor offset = random({1, 8, 33, 29}, -0.5, 0.5, 19);
  for (float& v : offset.data) v += 40.0f;
  const HostTensor g8 = random({8}, 0.5, 1.5, 20), b8 = random({8}, -1, 1, 21);
  compare(r, "group_norm [1,8,33,29] mean 40, 4 groups" + tag, 1e-5, true, [&](Backend& be) {
    return be.group_norm(be.upload(offset), be.upload(g8), be.upload(b8), 4, 1e-6f, false);
  }, cpu, gpu);
  const HostTensor ln = random({3, 77, 33}, -3, 3, 23), g33 = random({33}, 0.5, 1.5, 24), b33 = random({33}, -1, 1, 25);
  compare(r, "layer_norm [3,77,33]" + tag, 1e-5, true, [&](Backend& be) {
    return be.layer_norm(be.upload(ln), be.upload(g33), be.upload(b33), 1e-5f);
  }, cpu, gpu);
  const HostTensor ln2 = random({5, 1031}, -3, 3, 26), g1031 = weight({1031}, 0.5, 1.5, 27), b1031 = weight({1031}, -1, 1, 28);
  compare(r, "layer_norm [5,1031]" + tag, 1e-5, true, [&](Backend& be) {
    return be.layer_norm(be.upload(ln2), be.upload_weight(g1031.shape, g1031.data), be.upload_weight(b1031.shape, b1031.data), 1e-5f);
  }, cpu, gpu);
}

// conv2d and attention against the CPU backend: odd sizes, the shapes Stable Diffusion uses, float16
// weights, grids wrapped at 5 workgroups per row, and tensors split over several bindings.
void conv_attention_cases(Report& r, CpuBackend& cpu, WebGpuBackend& gpu, const std::shared_ptr<GpuHost>& host) {
  WebGpuBackend narrow(std::make_shared<LimitedHost>(host, 5));
  // 32 KiB bindings: 8192 floats or 16384 halves per buffer.
  WebGpuBackend split(std::make_shared<LimitedHost>(host, UINT32_MAX, 32768));
  auto conv = [&](const std::string& name, WebGpuBackend& g, const HostTensor& x, const HostTensor& w,
                  const HostTensor* b, Conv2dParams p, bool f16) {
    compare(r, name, 1e-5, true, [&](Backend& be) {
      auto up = [&](const HostTensor& t) { return f16 ? be.upload_weight(t.shape, t.data) : be.upload(t); };
      const Tensor bias = b ? up(*b) : Tensor{};
      return be.conv2d(be.upload(x), up(w), b ? &bias : nullptr, p);
    }, cpu, g);
  };
  const HostTensor img = random({2, 13, 17, 23}, -2, 2, 40), w3 = weight({29, 13, 3, 3}, -0.5, 0.5, 41);
  const HostTensor w1 = weight({29, 13, 1, 1}, -1, 1, 42), b29 = weight({29}, -1, 1, 43);
  const HostTensor w70 = weight({70, 13, 3, 3}, -0.5, 0.5, 44), b70 = weight({70}, -1, 1, 45);
  conv("conv2d 3x3 pad 1 [2,13,17,23] -> 29 + bias", gpu, img, w3, &b29, Conv2dParams::same(1), false);
  conv("conv2d 3x3 pad 1 [2,13,17,23] -> 29 + bias, f16 weights", gpu, img, w3, &b29, Conv2dParams::same(1), true);
  conv("conv2d 3x3 pad 1 [2,13,17,23] -> 29 no bias, f16 weights", gpu, img, w3, nullptr, Conv2dParams::same(1), true);
  conv("conv2d 1x1 [2,13,17,23] -> 29 + bias", gpu, img, w1, &b29, {}, true);
  conv("conv2d 3x3 stride 2 pad (0,1,0,1) [2,13,17,23] -> 70 + bias", gpu, img, w70, &b70, {2, 0, 1, 0, 1}, true);
  conv("conv2d 3x3 stride 2 pad 1 [2,13,17,23] -> 29", gpu, img, w3, nullptr, Conv2dParams::same(1, 2), true);
  const HostTensor latent = random({2, 4, 32, 32}, -2, 2, 46), w320 = weight({320, 4, 3, 3}, -0.5, 0.5, 47);
  const HostTensor b320 = weight({320}, -1, 1, 48);
  conv("conv2d 3x3 pad 1 [2,4,32,32] -> 320 + bias (conv_in)", gpu, latent, w320, &b320, Conv2dParams::same(1), true);
  const HostTensor feat = random({1, 32, 19, 21}, -2, 2, 49), w_rgb = weight({3, 32, 3, 3}, -0.5, 0.5, 50);
  const HostTensor b3 = weight({3}, -1, 1, 51);
  conv("conv2d 3x3 pad 1 [1,32,19,21] -> 3 + bias (conv_out)", gpu, feat, w_rgb, &b3, Conv2dParams::same(1), true);
  conv("conv2d 3x3 pad 1 [2,13,17,23] -> 29 + bias (grid wrapped at 5)", narrow, img, w3, &b29, Conv2dParams::same(1), true);
  // x in 2 buffers, y in 3; then the float16 weight in 2.
  conv("conv2d 3x3 pad 1 [2,13,17,23] -> 29 + bias (split at 32 KiB)", split, img, w3, &b29, Conv2dParams::same(1), true);
  const HostTensor wide = random({1, 64, 9, 11}, -2, 2, 52), w40 = weight({40, 64, 3, 3}, -0.2, 0.2, 53);
  const HostTensor b40 = weight({40}, -1, 1, 54);
  conv("conv2d 3x3 pad 1 [1,64,9,11] -> 40 + bias, f16 weight split (split at 32 KiB)", split, wide, w40, &b40,
       Conv2dParams::same(1), true);

  auto attn = [&](const std::string& name, WebGpuBackend& g, Shape qs, Shape ks, Shape vs, int heads, bool causal,
                  uint32_t seed) {
    const HostTensor q = random(std::move(qs), -3, 3, seed), k = random(std::move(ks), -1, 1, seed + 1);
    const HostTensor v = random(std::move(vs), -2, 2, seed + 2);
    compare(r, name, 1e-5, true, [&](Backend& be) {
      return be.attention(be.upload(q), be.upload(k), be.upload(v), heads, causal);
    }, cpu, g);
  };
  attn("attention [1,37,40] self, 1 head of 40", gpu, {1, 37, 40}, {1, 37, 40}, {1, 37, 40}, 1, false, 60);
  attn("attention [2,333,160] x [2,77,160], 2 heads of 80", gpu, {2, 333, 160}, {2, 77, 160}, {2, 77, 160}, 2, false, 63);
  attn("attention [2,257,320] x [2,77,320], 8 heads of 40", gpu, {2, 257, 320}, {2, 77, 320}, {2, 77, 320}, 8, false, 66);
  attn("attention [1,37,1280] x [1,77,1280], 8 heads of 160", gpu, {1, 37, 1280}, {1, 77, 1280}, {1, 77, 1280}, 8, false, 69);
  attn("attention [1,257,512] self, 1 head of 512 (VAE)", gpu, {1, 257, 512}, {1, 257, 512}, {1, 257, 512}, 1, false, 72);
  attn("attention [2,77,768] causal, 12 heads of 64 (CLIP)", gpu, {2, 77, 768}, {2, 77, 768}, {2, 77, 768}, 12, true, 75);
  attn("attention [2,1,128] x [2,77,128], 2 heads of 64", gpu, {2, 1, 128}, {2, 77, 128}, {2, 77, 128}, 2, false, 78);
  attn("attention [1,37,80] x [1,77,80], values [1,77,160], 2 heads", gpu, {1, 37, 80}, {1, 77, 80}, {1, 77, 160}, 2, false, 81);
  attn("attention [2,333,160] x [2,77,160], 2 heads of 80 (grid wrapped at 5)", narrow, {2, 333, 160}, {2, 77, 160},
       {2, 77, 160}, 2, false, 63);
  // q, k, v and y each in 2 buffers: the 8 storage buffers WebGPU guarantees.
  attn("attention [1,300,40] self, 1 head of 40 (split at 32 KiB)", split, {1, 300, 40}, {1, 300, 40}, {1, 300, 40}, 1,
       false, 84);
  attn("attention [1,4096,40] self, 1 head of 40 (64x64 latents)", gpu, {1, 4096, 40}, {1, 4096, 40}, {1, 4096, 40}, 1,
       false, 87);
}

std::string run() {
  Report r;
  std::shared_ptr<GpuHost> host = make_js_gpu_host();
  CpuBackend cpu;
  WebGpuBackend gpu(host);
  auto narrow = std::make_shared<LimitedHost>(host, 1000);
  WebGpuBackend gpu_narrow(narrow);

  const HostTensor big = random({1000003}, -8, 8, 1);
  const HostTensor big2 = random({1000003}, -8, 8, 2);
  const HostTensor a = random({5, 3, 17}, -4, 4, 6);

  for (WebGpuBackend* g : {&gpu, &gpu_narrow}) {
    const std::string tag = g == &gpu ? "" : " (grid wrapped at 1000 workgroups)";
    compare(r, "silu 1000003" + tag, 1e-5, true, [&](Backend& be) { return be.unary(be.upload(big), UnaryOp::SiLU); }, cpu, *g);
    compare(r, "gelu(erf) 1000003" + tag, 1e-6, false, [&](Backend& be) { return be.unary(be.upload(big), UnaryOp::GELU); }, cpu, *g);
    compare(r, "quick_gelu 1000003" + tag, 1e-5, true,
            [&](Backend& be) { return be.unary(be.upload(big), UnaryOp::QuickGELU); }, cpu, *g);
    compare(r, "scale 1000003" + tag, 1e-5, true, [&](Backend& be) { return be.scale(be.upload(big), -0.37f); }, cpu, *g);
    compare(r, "add 1000003" + tag, 1e-5, true, [&](Backend& be) { return be.add(be.upload(big), be.upload(big2)); },
            cpu, *g);
  }
  // Past the device's own grid (65535 × 256 values on WebGPU's default limit).
  const int64_t huge_n = int64_t{gpu_limits(*host)} * 256 + 1;
  const HostTensor huge = random({huge_n}, -2, 2, 10);
  compare(r, "scale " + std::to_string(huge_n) + " (device grid wrapped)", 1e-5, true,
          [&](Backend& be) { return be.scale(be.upload(huge), 1.5f); }, cpu, gpu);
  const HostTensor g64 = random({64}, 0.5, 1.5, 17), b64 = random({64}, -1, 1, 18);
  compare(r, "group_norm [40,64,5] 32 groups + silu (grid wrapped at 1000)", 1e-5, true, [&](Backend& be) {
    return be.group_norm(be.upload(random({40, 64, 5}, -2, 2, 22)), be.upload(g64), be.upload(b64), 32, 1e-5f, true);
  }, cpu, gpu_narrow);
  kernel_cases(r, cpu, gpu, "");
  // Every tensor above 64 KiB split over several bindings (16384 floats, 32768 halves); the
  // cases' sizes keep each kernel within the 8 storage buffers WebGPU guarantees.
  WebGpuBackend gpu_split(std::make_shared<LimitedHost>(host, UINT32_MAX, 65536));
  kernel_cases(r, cpu, gpu_split, " (split at 64 KiB)");

  expect_error(r, "host error becomes websd::Error", "unknown buffer id", [&] { host->read_buffer(999999, 0, 4); });
  expect_error(r, "WGSL compile error becomes websd::Error", "WGSL compilation", [&] {
    host->create_pipeline("fn main( {", "main");
    const Tensor t = gpu.upload(HostTensor({4}));
    gpu.download(t);
  });
  compare(r, "backend still works after the errors", 1e-5, true,
          [&](Backend& be) { return be.scale(be.upload(a), 2.0f); }, cpu, gpu);
  conv_attention_cases(r, cpu, gpu, host);
  return r.text();
}

}  // namespace
}  // namespace websd

extern "C" EMSCRIPTEN_KEEPALIVE const char* websd_webgpu_selftest() {
  static std::string report;
  try {
    report = websd::run();
  } catch (const std::exception& e) {
    report = "{\"error\":\"" + websd::device_test::Report::escape(e.what()) + "\"}";
  }
  return report.c_str();
}
