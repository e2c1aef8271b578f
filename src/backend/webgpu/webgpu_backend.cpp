// Shape checks, buffers and dispatch; the WGSL comes from kernels/.
#include "backend/webgpu/webgpu_backend.h"

#include <algorithm>
#include <cstring>

#include "backend/webgpu/kernels/elementwise.h"
#include "backend/webgpu/kernels/layout.h"
#include "backend/webgpu/kernels/matmul.h"
#include "backend/webgpu/kernels/norm.h"
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

Tensor WebGpuBackend::elementwise(wgsl::ElementwiseOp op, const Tensor& x, const Tensor* b, float s, uint32_t inner,
                                  const Shape* out_shape) {
  in(x);
  u32_count(x.numel(), "elementwise");
  const Shape& shape = out_shape ? *out_shape : x.shape;
  wgsl::ElementwiseSpec spec{op, u32_count(numel(shape), "elementwise"), b ? u32_count(b->numel(), "elementwise") : 0,
                             inner, 1};
  Tensor y = make(shape);
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

Tensor WebGpuBackend::layout(wgsl::LayoutSpec spec, const Shape& out_shape, std::vector<GpuBinding> inputs,
                             const char* op) {
  spec.count = u32_count(numel(out_shape), op);
  Tensor y = make(out_shape);
  if (spec.count == 0) return y;
  const uint32_t groups = (spec.count + wgsl::kLayoutWorkgroup - 1) / wgsl::kLayoutWorkgroup;
  spec.groups_x = std::min(groups, limits_.max_workgroups_per_dimension);
  const uint32_t groups_y = (groups + spec.groups_x - 1) / spec.groups_x;
  check(groups_y <= limits_.max_workgroups_per_dimension, op, shape_str(out_shape) + " needs too many workgroups");
  const uint32_t p = cached_pipeline(wgsl::layout_key(spec), [&] { return wgsl::layout_source(spec); });
  inputs.push_back({id(y)});
  host_->dispatch(p, inputs, {}, spec.groups_x, groups_y, 1);
  return y;
}

Tensor WebGpuBackend::norm(wgsl::NormSpec spec, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                           const char* op) {
  Tensor y = make(x.shape);
  if (spec.rows == 0 || spec.row_size == 0) return y;
  spec.groups_x = std::min(spec.rows, limits_.max_workgroups_per_dimension);
  const uint32_t groups_y = (spec.rows + spec.groups_x - 1) / spec.groups_x;
  check(groups_y <= limits_.max_workgroups_per_dimension, op, shape_str(x.shape) + " needs too many workgroups");
  const uint32_t p = cached_pipeline(wgsl::norm_key(spec), [&] { return wgsl::norm_source(spec); });
  const std::vector<GpuBinding> bindings{{id(x)}, {id(gamma)}, {id(beta)}, {id(y)}};
  host_->dispatch(p, bindings, {reinterpret_cast<const uint8_t*>(&eps), sizeof eps}, spec.groups_x, groups_y, 1);
  return y;
}

Tensor WebGpuBackend::group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                                 bool silu) {
  in(x);
  in(gamma);
  in(beta);
  check(x.shape.size() >= 2, "group_norm", "input " + shape_str(x.shape) + " has no channel dimension");
  const int64_t N = x.dim(0), C = x.dim(1);
  check(groups >= 1 && C % groups == 0, "group_norm",
        "the " + std::to_string(C) + " channels of " + shape_str(x.shape) + " do not split into " + std::to_string(groups) + " groups");
  check(gamma.numel() == C && beta.numel() == C, "group_norm",
        "gamma " + shape_str(gamma.shape) + " and beta " + shape_str(beta.shape) + " do not match the channels of " + shape_str(x.shape));
  u32_count(x.numel(), "group_norm");
  if (x.numel() == 0) return make(x.shape);
  wgsl::NormSpec spec;
  spec.rows = u32_count(N * groups, "group_norm");
  spec.spatial = u32_count(x.numel() / (N * C), "group_norm");
  spec.row_size = u32_count(C / groups * spec.spatial, "group_norm");
  spec.groups = static_cast<uint32_t>(groups);
  spec.silu = silu;
  return norm(spec, x, gamma, beta, eps, "group_norm");
}

Tensor WebGpuBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  in(x);
  in(gamma);
  in(beta);
  check(!x.shape.empty() && gamma.numel() == x.shape.back() && beta.numel() == x.shape.back(), "layer_norm",
        "gamma " + shape_str(gamma.shape) + " and beta " + shape_str(beta.shape) + " do not match the last dimension of " +
            shape_str(x.shape));
  u32_count(x.numel(), "layer_norm");
  if (x.numel() == 0) return make(x.shape);
  wgsl::NormSpec spec;
  spec.rows = u32_count(x.numel() / x.shape.back(), "layer_norm");
  spec.row_size = u32_count(x.shape.back(), "layer_norm");
  return norm(spec, x, gamma, beta, eps, "layer_norm");
}

Tensor WebGpuBackend::add_channel(const Tensor& x, const Tensor& v) {
  in(x);
  in(v);
  check(x.shape.size() >= 2 && v.numel() == x.dim(0) * x.dim(1), "add_channel",
        shape_str(v.shape) + " does not match the batch and channels of " + shape_str(x.shape));
  if (x.numel() == 0) return make(x.shape);
  return elementwise(wgsl::ElementwiseOp::AddChannel, x, &v, 0.0f, u32_count(x.numel() / v.numel(), "add_channel"));
}

Tensor WebGpuBackend::geglu(const Tensor& x) {
  in(x);
  check(!x.shape.empty() && x.shape.back() % 2 == 0, "geglu", "the last dimension of " + shape_str(x.shape) + " is odd");
  Shape os = x.shape;
  os.back() /= 2;
  if (numel(os) == 0) return make(os);
  return elementwise(wgsl::ElementwiseOp::GEGLU, x, nullptr, 0.0f, u32_count(os.back(), "geglu"), &os);
}

Tensor WebGpuBackend::nchw_to_nlc(const Tensor& x) {
  in(x);
  check(x.shape.size() == 4, "nchw_to_nlc", "expects [N, C, H, W], got " + shape_str(x.shape));
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2) * x.dim(3);
  wgsl::LayoutSpec spec{wgsl::LayoutOp::Nchw2Nlc};
  spec.a = u32_count(N, "nchw_to_nlc");
  spec.b = u32_count(C, "nchw_to_nlc");
  spec.c = u32_count(S, "nchw_to_nlc");
  return layout(spec, {N, S, C}, {{id(x)}}, "nchw_to_nlc");
}

Tensor WebGpuBackend::nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  in(x);
  check(x.shape.size() == 3 && h >= 0 && w >= 0 && x.dim(1) == h * w, "nlc_to_nchw",
        shape_str(x.shape) + " is not a sequence of " + std::to_string(h) + "x" + std::to_string(w) + " pixels");
  const int64_t N = x.dim(0), C = x.dim(2);
  wgsl::LayoutSpec spec{wgsl::LayoutOp::Nlc2Nchw};
  spec.a = u32_count(N, "nlc_to_nchw");
  spec.b = u32_count(C, "nlc_to_nchw");
  spec.c = u32_count(h * w, "nlc_to_nchw");
  return layout(spec, {N, C, h, w}, {{id(x)}}, "nlc_to_nchw");
}

Tensor WebGpuBackend::upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  in(x);
  check(x.shape.size() == 4 && out_h >= 1 && out_w >= 1, "upsample_nearest",
        "cannot resize " + shape_str(x.shape) + " to " + std::to_string(out_h) + "x" + std::to_string(out_w));
  const Shape os{x.dim(0), x.dim(1), out_h, out_w};
  if (numel(os) == 0) return make(os);
  check(x.dim(2) >= 1 && x.dim(3) >= 1, "upsample_nearest", "cannot resize the empty image " + shape_str(x.shape));
  wgsl::LayoutSpec spec{wgsl::LayoutOp::Upsample};
  spec.a = u32_count(x.dim(0) * x.dim(1), "upsample_nearest");
  spec.b = u32_count(x.dim(2), "upsample_nearest");
  spec.c = u32_count(x.dim(3), "upsample_nearest");
  spec.d = u32_count(out_h, "upsample_nearest");
  spec.e = u32_count(out_w, "upsample_nearest");
  return layout(spec, os, {{id(x)}}, "upsample_nearest");
}

Tensor WebGpuBackend::concat_channels(const Tensor& a, const Tensor& b) {
  in(a);
  in(b);
  const bool fits = a.shape.size() >= 2 && a.shape.size() == b.shape.size() && a.dim(0) == b.dim(0) &&
                    std::equal(a.shape.begin() + 2, a.shape.end(), b.shape.begin() + 2);
  check(fits, "concat_channels", shape_str(a.shape) + " and " + shape_str(b.shape) + " differ outside the channel dimension");
  Shape os = a.shape;
  os[1] += b.dim(1);
  int64_t S = 1;
  for (size_t i = 2; i < os.size(); ++i) S *= os[i];
  wgsl::LayoutSpec spec{wgsl::LayoutOp::Concat};
  spec.a = u32_count(a.dim(0), "concat_channels");
  spec.b = u32_count(a.dim(1), "concat_channels");
  spec.c = u32_count(b.dim(1), "concat_channels");
  spec.d = u32_count(S, "concat_channels");
  return layout(spec, os, {{id(a)}, {id(b)}}, "concat_channels");
}

Tensor WebGpuBackend::embedding(const Tensor& table, std::span<const int> ids) {
  in(table);
  check(table.shape.size() == 2, "embedding", "table " + shape_str(table.shape) + " is not [vocabulary, channels]");
  const int64_t V = table.dim(0), C = table.dim(1);
  for (int t : ids)
    check(t >= 0 && t < V, "embedding", "token id " + std::to_string(t) + " outside the vocabulary of " + std::to_string(V));
  const Shape os{static_cast<int64_t>(ids.size()), C};
  if (numel(os) == 0) return make(os);
  // The ids travel as u32 in a buffer of their own (4 bytes each, like the f32 buffers).
  const Tensor id_buf = make({static_cast<int64_t>(ids.size())});
  std::vector<uint32_t> u(ids.begin(), ids.end());
  host_->write_buffer(id(id_buf), 0, {reinterpret_cast<const uint8_t*>(u.data()), u.size() * sizeof(uint32_t)});
  wgsl::LayoutSpec spec{wgsl::LayoutOp::Embedding};
  spec.a = u32_count(static_cast<int64_t>(ids.size()), "embedding");
  spec.b = u32_count(C, "embedding");
  spec.c = u32_count(V, "embedding");
  return layout(spec, os, {{id(table)}, {id(id_buf)}}, "embedding");
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
Tensor WebGpuBackend::attention(const Tensor&, const Tensor&, const Tensor&, int, bool) { not_implemented("attention"); }

}  // namespace websd
