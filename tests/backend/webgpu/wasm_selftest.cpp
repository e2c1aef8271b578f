// The WebGPU backend against the CPU backend on a real device, from inside the wasm module:
// tests/web/webgpu/backend.test.mjs installs an initialised JS GPU host (Node + Dawn) and calls
// websd_webgpu_selftest() through ccall({async: true}), since reading a buffer suspends the module.
// Returns a JSON report: {"cases": [{"name", "maxErr", "tol", "ok", "detail"}]}. The cases are the
// table in tests/backend/op_cases.cpp; websd_webgpu_op_perf times its Stable Diffusion shapes.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "backend/cpu/cpu_backend.h"
#include "backend/op_cases.h"
#include "backend/webgpu/js_gpu_host.h"
#include "backend/webgpu/poison_workgroup_memory.h"
#include "backend/webgpu/kernels/tensor_core_gemm.h"
#include "backend/webgpu/device_report.h"
#include "backend/webgpu/webgpu_backend.h"
#include "core/error.h"

namespace websd {
namespace {

// The device with the tensor cores on or off, and smaller limits than it has: a smaller workgroup
// grid, so a dispatch has to wrap into several rows; a smaller maxStorageBufferBindingSize, so
// tensors take the split-buffer path; less workgroup memory, so the tensor-core products load their
// operands straight from storage instead of staging them. It also records the largest grid
// dispatched since reset_groups(), and counts the dispatches of subgroup-matrix kernels. Unless
// poison_workgroups is cleared (for timings), its kernels start with their workgroup memory full of
// NaN (poison_workgroup_memory.h): Node's Dawn no longer zeroes it, so no kernel may read it unwritten.
class LimitedHost : public GpuHost {
 public:
  LimitedHost(std::shared_ptr<GpuHost> inner, bool tensor_cores, uint32_t max_groups = UINT32_MAX, uint64_t max_binding = 0,
              uint32_t max_workgroup_storage = 0)
      : inner_(std::move(inner)),
        tensor_cores_(tensor_cores),
        max_(max_groups),
        max_binding_(max_binding),
        max_workgroup_storage_(max_workgroup_storage) {}
  uint32_t create_buffer(uint64_t bytes) override { return inner_->create_buffer(bytes); }
  void destroy_buffer(uint32_t id) noexcept override { inner_->destroy_buffer(id); }
  void write_buffer(uint32_t id, uint64_t o, std::span<const uint8_t> b) override { inner_->write_buffer(id, o, b); }
  uint32_t create_pipeline(const std::string& w, const std::string& e, const std::string& n) override {
    const uint32_t id = inner_->create_pipeline(poison_workgroups ? device_test::poison_workgroup_memory(w) : w, e, n);
    if (w.find("enable chromium_experimental_subgroup_matrix;") != std::string::npos) matrix_pipelines_.insert(id);
    return id;
  }
  void dispatch(uint32_t p, std::span<const GpuBinding> b, std::span<const uint8_t> u, uint32_t x, uint32_t y,
                uint32_t z) override {
    largest_ = std::max(largest_, x * y * z);
    matrix_dispatches_ += matrix_pipelines_.count(p);
    inner_->dispatch(p, b, u, x, y, z);
  }
  void flush() override { inner_->flush(); }
  std::vector<uint8_t> read_buffer(uint32_t id, uint64_t o, uint64_t n) override { return inner_->read_buffer(id, o, n); }
  GpuLimits limits() const override {
    GpuLimits l = inner_->limits();
    l.max_workgroups_per_dimension = std::min(l.max_workgroups_per_dimension, max_);
    if (max_binding_) l.max_storage_buffer_binding_size = max_binding_;
    if (max_workgroup_storage_) l.max_workgroup_storage = max_workgroup_storage_;
    l.tensor_cores = tensor_cores_;
    return l;
  }
  void reset_groups() { largest_ = 0; }
  bool poison_workgroups = true;
  uint32_t largest_grid() const { return largest_; }
  uint64_t matrix_dispatches() const { return matrix_dispatches_; }

 private:
  std::shared_ptr<GpuHost> inner_;
  bool tensor_cores_;
  uint32_t max_;
  uint64_t max_binding_;
  uint32_t max_workgroup_storage_;
  uint32_t largest_ = 0;
  std::set<uint32_t> matrix_pipelines_;
  uint64_t matrix_dispatches_ = 0;
};

HostTensor random(Shape shape, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  HostTensor t(std::move(shape));
  for (float& v : t.data) v = d(gen);
  return t;
}

using device_test::Report;

// Workgroup memory too small for any staged tensor-core product (1 KiB: one tile of the epilogue):
// the products load their operands straight from storage.
constexpr uint32_t kUnstagedWorkgroupBytes = 1024;

bool is_product(const op_cases::OpCase& c) { return c.op == "linear" || c.op == "conv2d"; }

// relative: |gpu − cpu| / max(|cpu|, 1); otherwise absolute.
void compare(Report& r, const std::string& name, double tol, bool relative, const std::vector<float>& want,
             const std::function<std::vector<float>()>& got_fn) {
  try {
    const std::vector<float> got = got_fn();
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

std::vector<float> run_case(Backend& b, const op_cases::OpCase& c, const std::vector<HostTensor>& inputs) {
  return b.download(op_cases::run(b, c, inputs));
}

// The largest tensor a case binds, in bytes as the backend stores it (weights as float16).
uint64_t largest_binding(const op_cases::OpCase& c, const std::vector<HostTensor>& inputs, size_t outputs) {
  uint64_t bytes = outputs * 4;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    bytes = std::max<uint64_t>(bytes, inputs[i].data.size() * (c.inputs[i].weight ? 2 : 4));
  }
  return bytes;
}

// Every case of tests/backend/op_cases.cpp against the CPU backend on the float32 kernels in three
// variants of the device: as it is; with a grid limit so small that the case's largest dispatch
// wraps into rows (the last one ragged); and with a binding limit that splits the case's largest
// tensor in two (each tensor then takes at most two of the 8 storage buffers WebGPU guarantees).
// Where the device has tensor cores, again on them, as it is and split, within the case's f16_tol,
// and the products once more unstaged.
void op_case_matrix(Report& r, const std::shared_ptr<GpuHost>& host) {
  CpuBackend cpu;
  auto recorder = std::make_shared<LimitedHost>(host, false);
  WebGpuBackend plain(recorder);
  const bool tensor_cores = host->limits().tensor_cores;
  WebGpuBackend f16(std::make_shared<LimitedHost>(host, true));
  WebGpuBackend unstaged(std::make_shared<LimitedHost>(host, true, UINT32_MAX, 0, kUnstagedWorkgroupBytes));
  if (!tensor_cores) r.add("tensor-core variants skipped: this adapter has no shader-f16 with f16 subgroup matrices", 0, 0, true, "");
  for (const op_cases::OpCase& c : op_cases::cases()) {
    std::vector<HostTensor> inputs;
    std::vector<float> want;
    try {
      inputs = op_cases::make_inputs(c);
      want = run_case(cpu, c, inputs);
    } catch (const std::exception& e) {
      r.add(c.name + " (cpu)", -1, c.tol, false, e.what());
      continue;
    }
    recorder->reset_groups();
    compare(r, c.name, c.tol, c.relative, want, [&] { return run_case(plain, c, inputs); });
    if (c.wrap) {
      const auto width = static_cast<uint32_t>(std::sqrt(static_cast<double>(recorder->largest_grid()))) + 1;
      WebGpuBackend wrapped(std::make_shared<LimitedHost>(host, false, width));
      compare(r, c.name + " (grid wrapped at " + std::to_string(width) + ")", c.tol, c.relative, want,
              [&] { return run_case(wrapped, c, inputs); });
    }
    const uint64_t half = std::max<uint64_t>((largest_binding(c, inputs, want.size()) / 2 + 1023) / 1024 * 1024, 1024);
    if (c.split) {
      WebGpuBackend split(std::make_shared<LimitedHost>(host, false, UINT32_MAX, half));
      compare(r, c.name + " (split at " + std::to_string(half) + " bytes)", c.tol, c.relative, want,
              [&] { return run_case(split, c, inputs); });
    }
    if (!tensor_cores) continue;
    const double f16_tol = c.f16_tol > 0 ? c.f16_tol : c.tol;
    compare(r, c.name + " (tensor cores)", f16_tol, c.relative, want, [&] { return run_case(f16, c, inputs); });
    if (is_product(c))
      compare(r, c.name + " (tensor cores, unstaged)", f16_tol, c.relative, want, [&] { return run_case(unstaged, c, inputs); });
    if (c.split) {
      // Its packed operand runs over ranges of rows too, the budget being a binding's.
      WebGpuBackend split(std::make_shared<LimitedHost>(host, true, UINT32_MAX, half));
      compare(r, c.name + " (tensor cores, split at " + std::to_string(half) + " bytes)", f16_tol, c.relative, want,
              [&] { return run_case(split, c, inputs); });
    }
  }
}

// A linear or conv2d case whose product the tensor-core kernels must take (a pack and a gemm
// dispatch per range). Attention takes them where its output block fits workgroup memory.
bool must_take_tensor_cores(const op_cases::OpCase& c) {
  if (!is_product(c)) return false;
  const Shape& w = c.inputs[1].shape;
  const int64_t k = numel(w) / w[0];
  return wgsl::tensor_core_gemm_fits(static_cast<uint32_t>(k), static_cast<uint32_t>(w[0]));
}

// The dispatches of subgroup-matrix kernels a case takes on `gpu` (over `host`), its output read back.
uint64_t matrix_dispatches_of(WebGpuBackend& gpu, const LimitedHost& host, const op_cases::OpCase& c) {
  const uint64_t before = host.matrix_dispatches();
  const std::vector<HostTensor> inputs = op_cases::make_inputs(c);
  std::vector<Tensor> t;
  for (size_t i = 0; i < inputs.size(); ++i)
    t.push_back(c.inputs[i].weight ? gpu.upload_weight(inputs[i].shape, inputs[i].data) : gpu.upload(inputs[i]));
  const Tensor y = c.run(gpu, t);
  const uint64_t dispatches = host.matrix_dispatches() - before;
  gpu.download(y);
  return dispatches;
}

// Every tensor-core kernel of every op case compiles (on Dawn's null adapter in make test), staged
// and unstaged; the products of whole 16s and attention take them.
std::string tensor_core_compile() {
  Report r;
  const std::shared_ptr<GpuHost> host = make_js_gpu_host();
  const auto staged_host = std::make_shared<LimitedHost>(host, true);
  const auto unstaged_host = std::make_shared<LimitedHost>(host, true, UINT32_MAX, 0, kUnstagedWorkgroupBytes);
  WebGpuBackend gpu(staged_host), unstaged(unstaged_host);
  int taken = 0;
  for (const op_cases::OpCase& c : op_cases::cases()) {
    try {
      const uint64_t on_matrices = matrix_dispatches_of(gpu, *staged_host, c);
      taken += on_matrices > 0;
      r.add(c.name, 0, 0, !must_take_tensor_cores(c) || on_matrices > 0, std::to_string(on_matrices) + " subgroup-matrix dispatches");
      if (is_product(c)) {
        const uint64_t direct = matrix_dispatches_of(unstaged, *unstaged_host, c);
        r.add(c.name + " (unstaged)", 0, 0, !must_take_tensor_cores(c) || direct > 0,
              std::to_string(direct) + " subgroup-matrix dispatches");
      }
    } catch (const std::exception& e) {
      r.add(c.name, -1, 0, false, e.what());
    }
  }
  // At least the 7 products and the 8 attention cases whose output block fits WebGPU's default
  // 16 KiB of workgroup memory (heads up to 144 values wide).
  r.add("cases on the tensor cores", taken, 0, taken >= 15, std::to_string(taken) + " of them");
  return r.text();
}

std::vector<float> run_on(Backend& b, const std::function<Tensor(Backend&)>& op) { return b.download(op(b)); }

std::string run() {
  Report r;
  std::shared_ptr<GpuHost> host = make_js_gpu_host();
  op_case_matrix(r, host);

  CpuBackend cpu;
  WebGpuBackend gpu(host);
  // Past the device's own grid (65535 × 256 values on WebGPU's default limit).
  const int64_t huge_n = int64_t{host->limits().max_workgroups_per_dimension} * 256 + 1;
  const HostTensor huge = random({huge_n}, -2, 2, 10);
  const auto scale_huge = [&](Backend& be) { return be.scale(be.upload(huge), 1.5f); };
  compare(r, "scale " + std::to_string(huge_n) + " (device grid wrapped)", 1e-5, true, run_on(cpu, scale_huge),
          [&] { return run_on(gpu, scale_huge); });

  expect_error(r, "host error becomes websd::Error", "unknown buffer id", [&] { host->read_buffer(999999, 0, 4); });
  expect_error(r, "WGSL compile error becomes websd::Error", "WGSL compilation", [&] {
    host->create_pipeline("fn main( {", "main", "broken");
    const Tensor t = gpu.upload(HostTensor({4}));
    gpu.download(t);
  });
  const HostTensor a = random({5, 3, 17}, -4, 4, 6);
  const auto twice = [&](Backend& be) { return be.scale(be.upload(a), 2.0f); };
  compare(r, "backend still works after the errors", 1e-5, true, run_on(cpu, twice), [&] { return run_on(gpu, twice); });
  return r.text();
}

// The perf cases' time on the device: each op once (compiling its kernels), then the best of three
// batches of `repeats` runs back to back, each batch ended by reading back one value computed
// after it (the queue runs in order), so no large read-back is timed. {"cases": [{name, ms, gflops}]}.
// Each case on the float32 kernels, then where the device has them on the tensor cores (only the
// ops that use them: linear, conv2d, attention), and the products once more unstaged.
// First the GPU is kept busy for kPerfWarmUpMs: on the lent H100 the first ops timed after a
// process started read up to 4× slower than the same kernels a minute later (clocks ramping), which
// made a variant timed first look slower and one timed later faster.
constexpr double kPerfWarmUpMs = 3000;

void warm_up(const std::shared_ptr<GpuHost>& host) {
  WebGpuBackend gpu(host);
  const Tensor a = gpu.upload(HostTensor({1024, 1024}));
  const Tensor w = gpu.upload(HostTensor({1024, 1024}));
  const double start = emscripten_get_now();
  while (emscripten_get_now() - start < kPerfWarmUpMs) {
    Tensor y = a;
    for (int i = 0; i < 8; ++i) y = gpu.linear(y, w, nullptr);
    gpu.download(gpu.scale(y, 0.0f));
  }
}

std::string perf(int repeats) {
  const std::shared_ptr<GpuHost> host = make_js_gpu_host();
  warm_up(host);
  std::ostringstream json;
  json << "{\"cases\":[";
  bool first = true;
  struct Variant {
    const char* label;
    bool tensor_cores;
    uint32_t workgroup_bytes;  // 0: the device's
  };
  for (const Variant& v : {Variant{"", false, 0}, Variant{" [tensor cores]", true, 0},
                           Variant{" [tensor cores, unstaged]", true, kUnstagedWorkgroupBytes}}) {
    if (v.tensor_cores && !host->limits().tensor_cores) break;
    const auto limited = std::make_shared<LimitedHost>(host, v.tensor_cores, UINT32_MAX, 0, v.workgroup_bytes);
    limited->poison_workgroups = false;
    WebGpuBackend gpu(limited);
    const Tensor probe = gpu.upload(HostTensor({1}));
    const auto sync = [&] { gpu.download(gpu.scale(probe, 1.0f)); };
    for (const op_cases::OpCase& c : op_cases::perf_cases()) {
      if (v.tensor_cores && !is_product(c) && (v.workgroup_bytes || c.op != "attention")) continue;
      const std::vector<HostTensor> inputs = op_cases::make_inputs(c);
      std::vector<Tensor> t;
      for (size_t i = 0; i < inputs.size(); ++i) {
        t.push_back(c.inputs[i].weight ? gpu.upload_weight(inputs[i].shape, inputs[i].data) : gpu.upload(inputs[i]));
      }
      Tensor y = c.run(gpu, t);
      sync();
      double ms = INFINITY;
      for (int batch = 0; batch < 3; ++batch) {
        const double start = emscripten_get_now();
        for (int i = 0; i < repeats; ++i) y = c.run(gpu, t);
        sync();
        ms = std::min(ms, (emscripten_get_now() - start) / repeats);
      }
      json << (first ? "" : ",") << "{\"name\":\"" << Report::escape(c.name) << v.label
           << "\",\"ms\":" << ms << ",\"gflops\":" << c.flops / ms / 1e6 << "}";
      first = false;
    }
  }
  json << "]}";
  return json.str();
}

}  // namespace
}  // namespace websd

extern "C" EMSCRIPTEN_KEEPALIVE const char* websd_webgpu_selftest() {
  static std::string report;
  return websd::device_test::entry_point(report, [] { return websd::run(); });
}

// tests/web/webgpu/backend.test.mjs, on Dawn's null adapter.
extern "C" EMSCRIPTEN_KEEPALIVE const char* websd_webgpu_tensor_core_compile() {
  static std::string report;
  return websd::device_test::entry_point(report, [] { return websd::tensor_core_compile(); });
}

// WEBSD_OPS_PERF=1 in tests/web/webgpu/backend.test.mjs.
extern "C" EMSCRIPTEN_KEEPALIVE const char* websd_webgpu_op_perf(int repeats) {
  static std::string report;
  return websd::device_test::entry_point(report, [repeats] { return websd::perf(repeats); });
}
