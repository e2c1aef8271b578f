// Shape checks, buffers and dispatch; the WGSL comes from kernels/.
#include "backend/webgpu/webgpu_backend.h"

#include <algorithm>
#include <cstring>

#include "backend/webgpu/kernels/elementwise.h"
#include "backend/webgpu/kernels/matmul.h"
#include "core/error.h"

namespace websd {
namespace {

// A GPU buffer that goes back to the host when the last Tensor holding it dies.
struct GpuBuffer : DeviceBuffer {
  GpuBuffer(std::shared_ptr<GpuHost> h, int64_t n)
      : host(std::move(h)), id(host->create_buffer(static_cast<uint64_t>(n) * sizeof(float))), size(n) {}
  ~GpuBuffer() override { host->destroy_buffer(id); }
  GpuBuffer(const GpuBuffer&) = delete;
  GpuBuffer& operator=(const GpuBuffer&) = delete;

  std::shared_ptr<GpuHost> host;  // shared: a tensor may outlive the backend that made it
  uint32_t id;
  int64_t size;
};

const GpuBuffer& in(const Tensor& t) {
  auto* b = dynamic_cast<GpuBuffer*>(t.buffer.get());
  if (!b) throw Error("webgpu backend: tensor " + shape_str(t.shape) + " does not live on the webgpu backend");
  if (b->size != t.numel())
    throw Error("webgpu backend: tensor " + shape_str(t.shape) + " has " + std::to_string(b->size) + " values");
  return *b;
}

uint32_t id(const Tensor& t) { return static_cast<const GpuBuffer*>(t.buffer.get())->id; }

[[noreturn]] void not_implemented(const char* op) {
  throw Error(std::string("webgpu backend: ") + op + " is not implemented yet");
}

void check(bool ok, const char* op, const std::string& what) {
  if (!ok) throw Error(std::string("webgpu backend: ") + op + ": " + what);
}

uint32_t u32_count(int64_t n, const char* op) {
  check(n <= UINT32_MAX, op, std::to_string(n) + " values is more than 32-bit indices reach");
  return static_cast<uint32_t>(n);
}

}  // namespace

WebGpuBackend::WebGpuBackend(std::shared_ptr<GpuHost> host) : host_(std::move(host)) {
  if (!host_) throw Error("webgpu backend: no GPU host");
  limits_ = host_->limits();
}

Tensor WebGpuBackend::make(const Shape& shape) {
  const int64_t n = numel(shape);
  check(static_cast<uint64_t>(n) * sizeof(float) <= limits_.max_storage_buffer_binding_size, "allocate",
        shape_str(shape) + " is larger than this device's maxStorageBufferBindingSize");
  return Tensor{shape, std::make_shared<GpuBuffer>(host_, n)};
}

template <class Make>
uint32_t WebGpuBackend::cached_pipeline(const std::string& key, Make make_source) {
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;
  const uint32_t p = host_->create_pipeline(make_source(), "main");
  pipelines_.emplace(key, p);
  return p;
}

Tensor WebGpuBackend::upload(const Shape& shape, std::span<const float> data) {
  check(static_cast<int64_t>(data.size()) == numel(shape), "upload",
        std::to_string(data.size()) + " values for shape " + shape_str(shape));
  Tensor t = make(shape);
  if (!data.empty()) host_->write_buffer(id(t), 0, {reinterpret_cast<const uint8_t*>(data.data()), data.size_bytes()});
  return t;
}

std::vector<float> WebGpuBackend::download(const Tensor& t) {
  const GpuBuffer& b = in(t);
  std::vector<float> out(static_cast<size_t>(b.size));
  if (out.empty()) return out;
  const std::vector<uint8_t> bytes = host_->read_buffer(b.id, 0, out.size() * sizeof(float));
  check(bytes.size() == out.size() * sizeof(float), "download", "the host returned " + std::to_string(bytes.size()) + " bytes");
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

Tensor WebGpuBackend::elementwise(wgsl::ElementwiseOp op, const Tensor& x, const Tensor* b, float s) {
  in(x);
  wgsl::ElementwiseSpec spec{op, u32_count(x.numel(), "elementwise"), b ? u32_count(b->numel(), "elementwise") : 0, 1};
  Tensor y = make(x.shape);
  if (spec.count == 0) return y;
  const uint32_t groups = (spec.count + wgsl::kElementwiseWorkgroup - 1) / wgsl::kElementwiseWorkgroup;
  spec.groups_x = std::min(groups, limits_.max_workgroups_per_dimension);
  const uint32_t groups_y = (groups + spec.groups_x - 1) / spec.groups_x;
  check(groups_y <= limits_.max_workgroups_per_dimension, "elementwise", shape_str(x.shape) + " needs too many workgroups");
  const uint32_t p = cached_pipeline(wgsl::elementwise_key(spec), [&] { return wgsl::elementwise_source(spec); });
  std::vector<GpuBinding> bindings{{id(x)}};
  if (b) bindings.push_back({id(*b)});
  bindings.push_back({id(y)});
  std::span<const uint8_t> uniforms;
  if (op == wgsl::ElementwiseOp::Scale) uniforms = {reinterpret_cast<const uint8_t*>(&s), sizeof s};
  host_->dispatch(p, bindings, uniforms, spec.groups_x, groups_y, 1);
  return y;
}

Tensor WebGpuBackend::add(const Tensor& a, const Tensor& b) {
  in(b);
  const size_t r = b.shape.size();
  const bool trailing = r <= a.shape.size() && std::equal(b.shape.begin(), b.shape.end(), a.shape.end() - static_cast<std::ptrdiff_t>(r));
  check(trailing, "add", shape_str(b.shape) + " is not the trailing part of " + shape_str(a.shape));
  return elementwise(wgsl::ElementwiseOp::Add, a, &b, 0.0f);
}

Tensor WebGpuBackend::scale(const Tensor& x, float s) {
  return elementwise(wgsl::ElementwiseOp::Scale, x, nullptr, s);
}

Tensor WebGpuBackend::unary(const Tensor& x, UnaryOp op) {
  wgsl::ElementwiseOp e = wgsl::ElementwiseOp::SiLU;
  if (op == UnaryOp::GELU) e = wgsl::ElementwiseOp::GELU;
  if (op == UnaryOp::QuickGELU) e = wgsl::ElementwiseOp::QuickGELU;
  return elementwise(e, x, nullptr, 0.0f);
}

Tensor WebGpuBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b) {
  in(x);
  in(w);
  check(!x.shape.empty() && w.shape.size() == 2 && x.dim(-1) == w.dim(1), "linear",
        "x " + shape_str(x.shape) + " does not match weight " + shape_str(w.shape));
  if (b) check(in(*b).size == w.dim(0) && b->shape.size() == 1, "linear", "bias " + shape_str(b->shape) + " for weight " + shape_str(w.shape));
  wgsl::MatmulSpec spec{u32_count(x.numel() / x.dim(-1), "linear"), u32_count(w.dim(0), "linear"),
                        u32_count(w.dim(1), "linear"), b != nullptr};
  Shape out_shape = x.shape;
  out_shape.back() = w.dim(0);
  Tensor y = make(out_shape);
  if (y.numel() == 0) return y;
  const uint32_t gx = (spec.n + wgsl::kMatmulTile - 1) / wgsl::kMatmulTile;
  const uint32_t gy = (spec.m + wgsl::kMatmulTile - 1) / wgsl::kMatmulTile;
  check(gx <= limits_.max_workgroups_per_dimension && gy <= limits_.max_workgroups_per_dimension, "linear",
        shape_str(out_shape) + " needs too many workgroups");
  const uint32_t p = cached_pipeline(wgsl::matmul_key(spec), [&] { return wgsl::matmul_source(spec); });
  std::vector<GpuBinding> bindings{{id(x)}, {id(w)}};
  if (b) bindings.push_back({id(*b)});
  bindings.push_back({id(y)});
  host_->dispatch(p, bindings, {}, gx, gy, 1);
  return y;
}

Tensor WebGpuBackend::conv2d(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&) { not_implemented("conv2d"); }
Tensor WebGpuBackend::group_norm(const Tensor&, const Tensor&, const Tensor&, int, float, bool) { not_implemented("group_norm"); }
Tensor WebGpuBackend::layer_norm(const Tensor&, const Tensor&, const Tensor&, float) { not_implemented("layer_norm"); }
Tensor WebGpuBackend::add_channel(const Tensor&, const Tensor&) { not_implemented("add_channel"); }
Tensor WebGpuBackend::geglu(const Tensor&) { not_implemented("geglu"); }
Tensor WebGpuBackend::attention(const Tensor&, const Tensor&, const Tensor&, int, bool) { not_implemented("attention"); }
Tensor WebGpuBackend::nchw_to_nlc(const Tensor&) { not_implemented("nchw_to_nlc"); }
Tensor WebGpuBackend::nlc_to_nchw(const Tensor&, int64_t, int64_t) { not_implemented("nlc_to_nchw"); }
Tensor WebGpuBackend::upsample_nearest(const Tensor&, int64_t, int64_t) { not_implemented("upsample_nearest"); }
Tensor WebGpuBackend::concat_channels(const Tensor&, const Tensor&) { not_implemented("concat_channels"); }
Tensor WebGpuBackend::embedding(const Tensor&, std::span<const int>) { not_implemented("embedding"); }

}  // namespace websd
