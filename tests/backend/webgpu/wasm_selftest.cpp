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
#include "backend/webgpu/webgpu_backend.h"
#include "core/error.h"

namespace websd {
namespace {

// Reports a smaller workgroup grid than the device has, so a million-value elementwise op already
// has to wrap its dispatch into several rows.
class NarrowGridHost : public GpuHost {
 public:
  NarrowGridHost(std::shared_ptr<GpuHost> inner, uint32_t max_groups) : inner_(std::move(inner)), max_(max_groups) {}
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
    l.max_workgroups_per_dimension = max_;
    return l;
  }

 private:
  std::shared_ptr<GpuHost> inner_;
  uint32_t max_;
};

uint32_t gpu_limits(const GpuHost& h) { return h.limits().max_workgroups_per_dimension; }

HostTensor random(Shape shape, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  HostTensor t(std::move(shape));
  for (float& v : t.data) v = d(gen);
  return t;
}

struct Report {
  std::ostringstream json;
  bool first = true;

  void add(const std::string& name, double err, double tol, bool ok, const std::string& detail) {
    json << (first ? "" : ",") << "{\"name\":\"" << name << "\",\"maxErr\":" << err << ",\"tol\":" << tol
         << ",\"ok\":" << (ok ? "true" : "false") << ",\"detail\":\"" << escape(detail) << "\"}";
    first = false;
  }
  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') { out += "\\n"; continue; }
      out += c;
    }
    return out;
  }
};

// relative: |gpu − cpu| / max(|cpu|, 1); otherwise absolute.
void compare(Report& r, const std::string& name, double tol, bool relative, const std::function<Tensor(Backend&)>& op,
             CpuBackend& cpu, WebGpuBackend& gpu) {
  try {
    const std::vector<float> want = cpu.download(op(cpu));
    const std::vector<float> got = gpu.download(op(gpu));
    if (want.size() != got.size()) throw Error("sizes differ");
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double d = std::abs(static_cast<double>(got[i]) - want[i]);
      const double e = relative ? d / std::max(1.0, std::abs(static_cast<double>(want[i]))) : d;
      if (!(e <= worst)) worst = e;  // NaN sticks
    }
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

std::string run() {
  Report r;
  std::shared_ptr<GpuHost> host = make_js_gpu_host();
  CpuBackend cpu;
  WebGpuBackend gpu(host);
  auto narrow = std::make_shared<NarrowGridHost>(host, 1000);
  WebGpuBackend gpu_narrow(narrow);

  const HostTensor big = random({1000003}, -8, 8, 1);
  const HostTensor big2 = random({1000003}, -8, 8, 2);
  const HostTensor x3 = random({3, 37, 53}, -1, 1, 3);
  const HostTensor w = random({29, 53}, -1, 1, 4);
  const HostTensor bias = random({29}, -1, 1, 5);
  const HostTensor a = random({5, 3, 17}, -4, 4, 6);
  const HostTensor b = random({3, 17}, -4, 4, 7);

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
  compare(r, "add [5,3,17] + [3,17]", 1e-5, true, [&](Backend& be) { return be.add(be.upload(a), be.upload(b)); }, cpu, gpu);
  compare(r, "linear [3,37,53] x [29,53] + bias", 1e-5, true, [&](Backend& be) {
    const Tensor bb = be.upload(bias);
    return be.linear(be.upload(x3), be.upload(w), &bb);
  }, cpu, gpu);
  compare(r, "linear [3,37,53] x [29,53] no bias", 1e-5, true,
          [&](Backend& be) { return be.linear(be.upload(x3), be.upload(w), nullptr); }, cpu, gpu);
  const HostTensor x2 = random({70, 129}, -1, 1, 8), w2 = random({65, 129}, -1, 1, 9);
  compare(r, "linear [70,129] x [65,129]", 1e-5, true,
          [&](Backend& be) { return be.linear(be.upload(x2), be.upload(w2), nullptr); }, cpu, gpu);

  expect_error(r, "host error becomes websd::Error", "unknown buffer id", [&] { host->read_buffer(999999, 0, 4); });
  expect_error(r, "WGSL compile error becomes websd::Error", "WGSL compilation", [&] {
    host->create_pipeline("fn main( {", "main");
    const Tensor t = gpu.upload(HostTensor({4}));
    gpu.download(t);
  });
  compare(r, "backend still works after the errors", 1e-5, true,
          [&](Backend& be) { return be.scale(be.upload(a), 2.0f); }, cpu, gpu);
  const HostTensor img = random({2, 64, 17, 13}, -3, 3, 11), img2 = random({2, 5, 17, 13}, -3, 3, 12);
  const HostTensor chan = random({2, 64}, -2, 2, 13);
  compare(r, "add_channel [2,64,17,13] + [2,64]", 1e-5, true,
          [&](Backend& be) { return be.add_channel(be.upload(img), be.upload(chan)); }, cpu, gpu);
  const HostTensor gx = random({3, 7, 2 * 45}, -5, 5, 14);
  compare(r, "geglu [3,7,90]", 1e-5, true, [&](Backend& be) { return be.geglu(be.upload(gx)); }, cpu, gpu);
  compare(r, "nchw_to_nlc [2,64,17,13]", 0, false, [&](Backend& be) { return be.nchw_to_nlc(be.upload(img)); }, cpu, gpu);
  const HostTensor seq = random({2, 17 * 13, 33}, -3, 3, 15);
  compare(r, "nlc_to_nchw [2,221,33] -> 17x13", 0, false,
          [&](Backend& be) { return be.nlc_to_nchw(be.upload(seq), 17, 13); }, cpu, gpu);
  compare(r, "upsample_nearest [2,5,17,13] -> 34x26", 0, false,
          [&](Backend& be) { return be.upsample_nearest(be.upload(img2), 34, 26); }, cpu, gpu);
  compare(r, "upsample_nearest [2,5,17,13] -> 23x40", 0, false,
          [&](Backend& be) { return be.upsample_nearest(be.upload(img2), 23, 40); }, cpu, gpu);
  compare(r, "upsample_nearest [2,5,17,13] -> 7x5 (down)", 0, false,
          [&](Backend& be) { return be.upsample_nearest(be.upload(img2), 7, 5); }, cpu, gpu);
  compare(r, "concat_channels [2,64,17,13] + [2,5,17,13]", 0, false,
          [&](Backend& be) { return be.concat_channels(be.upload(img), be.upload(img2)); }, cpu, gpu);
  const HostTensor table = random({49, 33}, -3, 3, 16);
  const std::vector<int> ids{0, 48, 7, 7, 13, 1, 30};
  compare(r, "embedding [49,33] x 7 ids", 0, false, [&](Backend& be) { return be.embedding(be.upload(table), ids); },
          cpu, gpu);
  const HostTensor g64 = random({64}, 0.5, 1.5, 17), b64 = random({64}, -1, 1, 18);
  for (bool silu : {false, true}) {
    const std::string tag = silu ? " + silu" : "";
    compare(r, "group_norm [2,64,17,13] 32 groups" + tag, 1e-5, true, [&](Backend& be) {
      return be.group_norm(be.upload(img), be.upload(g64), be.upload(b64), 32, 1e-5f, silu);
    }, cpu, gpu);
  }
  // A large mean against a small spread (the VAE's activations), and a 3-D input.
  HostTensor offset = random({1, 8, 33, 29}, -0.5, 0.5, 19);
  for (float& v : offset.data) v += 40.0f;
  const HostTensor g8 = random({8}, 0.5, 1.5, 20), b8 = random({8}, -1, 1, 21);
  compare(r, "group_norm [1,8,33,29] mean 40, 4 groups", 1e-5, true, [&](Backend& be) {
    return be.group_norm(be.upload(offset), be.upload(g8), be.upload(b8), 4, 1e-6f, false);
  }, cpu, gpu);
  compare(r, "group_norm [40,64,5] 32 groups + silu (grid wrapped at 1000)", 1e-5, true, [&](Backend& be) {
    return be.group_norm(be.upload(random({40, 64, 5}, -2, 2, 22)), be.upload(g64), be.upload(b64), 32, 1e-5f, true);
  }, cpu, gpu_narrow);
  const HostTensor ln = random({3, 77, 33}, -3, 3, 23), g33 = random({33}, 0.5, 1.5, 24), b33 = random({33}, -1, 1, 25);
  compare(r, "layer_norm [3,77,33]", 1e-5, true, [&](Backend& be) {
    return be.layer_norm(be.upload(ln), be.upload(g33), be.upload(b33), 1e-5f);
  }, cpu, gpu);
  const HostTensor ln2 = random({5, 1031}, -3, 3, 26), g1031 = random({1031}, 0.5, 1.5, 27), b1031 = random({1031}, -1, 1, 28);
  compare(r, "layer_norm [5,1031]", 1e-5, true, [&](Backend& be) {
    return be.layer_norm(be.upload(ln2), be.upload(g1031), be.upload(b1031), 1e-5f);
  }, cpu, gpu);
  expect_error(r, "unwritten op names itself", "webgpu backend: attention is not implemented yet",
               [&] { gpu.attention(gpu.upload(a), gpu.upload(a), gpu.upload(a), 1, false); });
  return "{\"cases\":[" + r.json.str() + "]}";
}

}  // namespace
}  // namespace websd

extern "C" EMSCRIPTEN_KEEPALIVE const char* websd_webgpu_selftest() {
  static std::string report;
  try {
    report = websd::run();
  } catch (const std::exception& e) {
    report = "{\"error\":\"" + websd::Report::escape(e.what()) + "\"}";
  }
  return report.c_str();
}
