// Buffers and dispatch, with the shapes checked by op_shapes.h; the WGSL comes from kernels/.
#include "backend/webgpu/webgpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "backend/webgpu/kernels/attention.h"
#include "backend/webgpu/kernels/conv2d.h"
#include "backend/webgpu/kernels/elementwise.h"
#include "backend/webgpu/kernels/layout.h"
#include "backend/webgpu/kernels/matmul.h"
#include "backend/op_shapes.h"
#include "backend/webgpu/kernels/norm.h"
#include "backend/webgpu/kernels/f16_pack.h"
#include "backend/webgpu/kernels/tensor_core_attention.h"
#include "backend/webgpu/kernels/tensor_core_gemm.h"
#include "core/error.h"
#include "core/half.h"

namespace websd {
namespace {

// A tensor's storage: one or more GPU buffers from the pool (chunks of chunk_elems elements, the
// last possibly shorter), returned to the pool when the last Tensor holding it dies. A pooled
// buffer may be larger than its chunk (BufferPool's size classes): kernels bind the chunk's bytes.
struct GpuBuffer : DeviceBuffer {
  GpuBuffer(std::shared_ptr<BufferPool> p, int64_t n, wgsl::Storage st, int64_t chunk, BufferPool::Fit fit)
      : pool(std::move(p)), size(n), storage(st), chunk_elems(chunk) {
    try {
      for (int64_t first = 0; first < std::max<int64_t>(n, 1); first += chunk_elems) {
        const uint64_t bytes = chunk_bytes(std::min(chunk_elems, n - first));
        ids.push_back(pool->acquire(bytes, fit));
        sizes.push_back(bytes);
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~GpuBuffer() override { release(); }
  GpuBuffer(const GpuBuffer&) = delete;
  GpuBuffer& operator=(const GpuBuffer&) = delete;

  // Whole u32 words: float16 pairs share one, and an empty tensor still gets a binding.
  uint64_t chunk_bytes(int64_t elems) const {
    const uint64_t e = static_cast<uint64_t>(std::max<int64_t>(elems, 1));
    return storage == wgsl::Storage::F16 ? (e + 1) / 2 * 4 : e * 4;
  }
  void release() noexcept {
    for (size_t i = 0; i < ids.size(); ++i) pool->release(ids[i], sizes[i]);
    ids.clear();
  }

  std::shared_ptr<BufferPool> pool;  // shared: a tensor may outlive the backend that made it
  int64_t size;
  wgsl::Storage storage;
  int64_t chunk_elems;
  std::vector<uint32_t> ids;
  std::vector<uint64_t> sizes;  // each chunk's bytes
};

const GpuBuffer& in(const Tensor& t) {
  auto* b = dynamic_cast<GpuBuffer*>(t.buffer.get());
  if (!b) throw Error("webgpu backend: tensor " + shape_str(t.shape) + " does not live on the webgpu backend");
  if (b->size != t.numel())
    throw Error("webgpu backend: tensor " + shape_str(t.shape) + " has " + std::to_string(b->size) + " values");
  return *b;
}

const GpuBuffer& buf(const Tensor& t) { return *static_cast<const GpuBuffer*>(t.buffer.get()); }

// How kernels see t (tensor_io): its storage and split.
wgsl::TensorView view(const Tensor& t) {
  const GpuBuffer& b = buf(t);
  return {b.storage, static_cast<uint32_t>(b.ids.size()), static_cast<uint32_t>(b.chunk_elems)};
}

// The tensors' bindings, one per chunk, in the order bind_tensor declares them; a null tensor (an
// absent bias) has none.
std::vector<GpuBinding> bindings_of(std::initializer_list<const Tensor*> tensors) {
  std::vector<GpuBinding> out;
  for (const Tensor* t : tensors)
    if (t) {
      const GpuBuffer& b = buf(*t);
      for (size_t c = 0; c < b.ids.size(); ++c) out.push_back({b.ids[c], 0, b.sizes[c]});
    }
  return out;
}

// This backend's own limits (the device's, its kernels'), in op_shapes' format.
void check(bool ok, const char* op, const std::string& what) {
  if (!ok) throw op_error("webgpu", op, what);
}

// The most a tensor-core product's packed float16 operand may take (one binding); larger products
// run over ranges of rows (kernels/tensor_core_gemm.h).
constexpr uint64_t kPackBudget = 64ull << 20;

uint32_t u32_count(int64_t n, const char* op) {
  check(n <= UINT32_MAX, op, std::to_string(n) + " values is more than 32-bit indices reach");
  return static_cast<uint32_t>(n);
}

}  // namespace

WebGpuBackend::WebGpuBackend(std::shared_ptr<GpuHost> host) : host_(std::move(host)) {
  if (!host_) throw Error("webgpu backend: no GPU host");
  limits_ = host_->limits();
  pool_ = std::make_shared<BufferPool>(host_, limits_.max_buffer_size);
}

WebGpuBackend::~WebGpuBackend() { pool_->trim(); }

int64_t WebGpuBackend::chunk_elems(wgsl::Storage storage) const {
  // Whole multiples of 256 elements keep a float16 chunk's elements in whole words.
  const uint64_t bytes = std::min(limits_.max_storage_buffer_binding_size, limits_.max_buffer_size);
  const uint64_t per_elem = storage == wgsl::Storage::F16 ? 2 : 4;
  const uint64_t elems = std::min<uint64_t>(bytes / per_elem / 256 * 256, uint64_t{UINT32_MAX} / 256 * 256);
  check(elems > 0, "allocate", "this device's maxStorageBufferBindingSize (" + std::to_string(bytes) + " bytes) is too small");
  return static_cast<int64_t>(elems);
}

Tensor WebGpuBackend::make(const Shape& shape, wgsl::Storage storage, BufferPool::Fit fit) {
  const int64_t n = numel(shape);
  u32_count(n, "allocate");
  return Tensor{shape, std::make_shared<GpuBuffer>(pool_, n, storage, chunk_elems(storage), fit)};
}

uint32_t WebGpuBackend::pipeline(const std::string& key, const std::function<std::string()>& make_source) {
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;
  const std::string source = make_source();
  const auto start = std::chrono::steady_clock::now();
  const uint32_t p = host_->create_pipeline(source, "main", key);
  compile_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  pipelines_.emplace(key, p);
  return p;
}

uint32_t WebGpuBackend::grid_width(uint32_t groups) const {
  return std::min(groups, limits_.max_workgroups_per_dimension);
}

void WebGpuBackend::dispatch(uint32_t pipeline, std::initializer_list<const Tensor*> tensors,
                             std::span<const uint8_t> uniforms, uint32_t groups, uint32_t x, const char* op) {
  const std::vector<GpuBinding> bindings = bindings_of(tensors);
  const uint32_t y = (groups + x - 1) / x;
  check(bindings.size() <= limits_.max_storage_buffers_per_shader_stage, op,
        std::to_string(bindings.size()) + " storage buffers (tensors split to fit maxStorageBufferBindingSize) exceed "
        "this device's maxStorageBuffersPerShaderStage of " + std::to_string(limits_.max_storage_buffers_per_shader_stage));
  check(x <= limits_.max_workgroups_per_dimension && y <= limits_.max_workgroups_per_dimension, op,
        "needs a grid of " + std::to_string(x) + "x" + std::to_string(y) + " workgroups, more than this device's " +
            std::to_string(limits_.max_workgroups_per_dimension) + " per dimension");
  host_->dispatch(pipeline, bindings, uniforms, x, y, 1);
  ++dispatches_;
}

BackendStats WebGpuBackend::stats() const {
  return {dispatches_, pool_->held_bytes(), pool_->peak_held_bytes(), pipelines_.size(), compile_ms_};
}

void WebGpuBackend::reset_peak() { pool_->reset_peak(); }

void WebGpuBackend::trim() { pool_->trim(); }
void WebGpuBackend::set_reuse(Reuse reuse) { pool_->set_evict_idle(reuse == Reuse::Once); }

Tensor WebGpuBackend::upload(const Shape& shape, std::span<const float> data) {
  check_upload(name(), shape, data.size());
  Tensor t = make(shape);
  const GpuBuffer& b = buf(t);
  for (size_t c = 0; c < b.ids.size(); ++c) {
    const size_t first = c * static_cast<size_t>(b.chunk_elems);
    const size_t n = std::min(static_cast<size_t>(b.chunk_elems), data.size() - std::min(first, data.size()));
    if (n) host_->write_buffer(b.ids[c], 0, {reinterpret_cast<const uint8_t*>(data.data() + first), n * sizeof(float)});
  }
  return t;
}

Tensor WebGpuBackend::upload_weight(const Shape& shape, std::span<const float> data) {
  check_upload(name(), shape, data.size());
  Tensor t = make(shape, wgsl::Storage::F16, BufferPool::Fit::Exact);
  const GpuBuffer& b = buf(t);
  for (size_t c = 0; c < b.ids.size(); ++c) {
    const size_t first = c * static_cast<size_t>(b.chunk_elems);
    const size_t n = std::min(static_cast<size_t>(b.chunk_elems), data.size() - std::min(first, data.size()));
    std::vector<uint16_t> halves((n + 1) / 2 * 2, 0);
    for (size_t i = 0; i < n; ++i) halves[i] = f32_to_f16(data[first + i]);
    if (n) host_->write_buffer(b.ids[c], 0, {reinterpret_cast<const uint8_t*>(halves.data()), halves.size() * 2});
  }
  return t;
}

Tensor WebGpuBackend::upload_weight_bytes(const Shape& shape, const WeightBytes& bytes) {
  const bool f16 = bytes.dtype == WeightBytes::DType::F16;
  const uint64_t n = static_cast<uint64_t>(numel(shape));
  const uint64_t words = f16 ? (n + 1) / 2 * 4 : n * 4;  // what the buffers hold: whole u32 words
  if (!bytes.staged)
    check(bytes.host.size() >= words, "upload_weight",
          std::to_string(bytes.host.size()) + " bytes for " + std::to_string(words) + " bytes of weight " + shape_str(shape));
  Tensor t = make(shape, f16 ? wgsl::Storage::F16 : wgsl::Storage::F32, BufferPool::Fit::Exact);
  const GpuBuffer& b = buf(t);
  for (size_t c = 0; c < b.ids.size(); ++c) {
    const uint64_t first = c * static_cast<uint64_t>(b.chunk_elems) * bytes.element_size();
    const uint64_t size = std::min<uint64_t>(b.sizes[c], words - std::min(first, words));
    if (size == 0) continue;
    if (bytes.staged)
      host_->write_buffer_staged(b.ids[c], 0, bytes.staged, bytes.staged_offset + first, size);
    else
      host_->write_buffer(b.ids[c], 0, bytes.host.subspan(first, size));
  }
  return t;
}

std::vector<float> WebGpuBackend::download(const Tensor& t) {
  const GpuBuffer& b = in(t);
  std::vector<float> out(static_cast<size_t>(b.size));
  for (size_t c = 0; c < b.ids.size(); ++c) {
    const size_t first = c * static_cast<size_t>(b.chunk_elems);
    const size_t n = std::min(static_cast<size_t>(b.chunk_elems), out.size() - std::min(first, out.size()));
    if (n == 0) continue;
    const uint64_t bytes = b.storage == wgsl::Storage::F16 ? (n + 1) / 2 * 4 : n * 4;
    const std::vector<uint8_t> got = host_->read_buffer(b.ids[c], 0, bytes);
    check(got.size() == bytes, "download", "the host returned " + std::to_string(got.size()) + " bytes");
    if (b.storage == wgsl::Storage::F32) {
      std::memcpy(out.data() + first, got.data(), bytes);
    } else {
      for (size_t i = 0; i < n; ++i) out[first + i] = f16_to_f32(static_cast<uint16_t>(got[2 * i] | (got[2 * i + 1] << 8)));
    }
  }
  return out;
}

Tensor WebGpuBackend::elementwise(wgsl::ElementwiseOp op, const Tensor& x, const Tensor* b, float s, uint32_t inner,
                                  const Shape* out_shape) {
  in(x);
  u32_count(x.numel(), "elementwise");
  const Shape& shape = out_shape ? *out_shape : x.shape;
  wgsl::ElementwiseSpec spec;
  spec.op = op;
  spec.count = u32_count(numel(shape), "elementwise");
  spec.b_count = b ? u32_count(b->numel(), "elementwise") : 0;
  spec.inner = inner;
  Tensor y = make(shape);
  spec.x = view(x);
  if (b) spec.b = view(*b);
  spec.y = view(y);
  if (spec.count == 0) return y;
  const uint32_t groups = (spec.count + wgsl::kElementwiseWorkgroup - 1) / wgsl::kElementwiseWorkgroup;
  spec.groups_x = grid_width(groups);
  const wgsl::Dims dims = wgsl::elementwise_dims(spec, s);
  const uint32_t p = pipeline(wgsl::elementwise_key(spec), [&] { return wgsl::elementwise_source(spec); });
  dispatch(p, {&x, b, &y}, dims.bytes(), groups, spec.groups_x, "elementwise");
  return y;
}

Tensor WebGpuBackend::add(const Tensor& a, const Tensor& b) {
  in(b);
  add_shape(name(), a, b);
  return elementwise(wgsl::ElementwiseOp::Add, a, &b, 0.0f);
}

Tensor WebGpuBackend::layout(wgsl::LayoutSpec spec, const Shape& out_shape, const Tensor& in0, const Tensor* in1,
                             const char* op) {
  spec.count = u32_count(numel(out_shape), op);
  Tensor y = make(out_shape);
  if (spec.count == 0) return y;
  spec.in0 = view(in0);
  if (in1) spec.in1 = view(*in1);
  spec.y = view(y);
  const uint32_t groups = (spec.count + wgsl::kLayoutWorkgroup - 1) / wgsl::kLayoutWorkgroup;
  spec.groups_x = grid_width(groups);
  const wgsl::Dims dims = wgsl::layout_dims(spec);
  const uint32_t p = pipeline(wgsl::layout_key(spec), [&] { return wgsl::layout_source(spec); });
  dispatch(p, {&in0, in1, &y}, dims.bytes(), groups, spec.groups_x, op);
  return y;
}

Tensor WebGpuBackend::norm(wgsl::NormSpec spec, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                           const char* op) {
  Tensor y = spec.in_place ? x : make(x.shape);
  if (spec.rows == 0 || spec.row_size == 0) return y;
  spec.x = view(x);
  spec.gamma = view(gamma);
  spec.beta = view(beta);
  spec.y = view(y);
  spec.chunks = wgsl::norm_chunks(spec.rows, spec.row_size);
  const uint32_t groups = spec.rows * spec.chunks;
  spec.groups_x = grid_width(groups);
  const wgsl::Dims dims = wgsl::norm_dims(spec, eps);
  const uint32_t p = pipeline(wgsl::norm_key(spec), [&] { return wgsl::norm_source(spec); });
  const Tensor* source = spec.in_place ? nullptr : &x;  // in place, the kernel reads y
  if (spec.chunks == 1) {
    dispatch(p, {source, &gamma, &beta, &y}, dims.bytes(), groups, spec.groups_x, op);
    return y;
  }
  const Tensor stats = make({int64_t{groups} * wgsl::kNormChunkStats});
  const uint32_t s = pipeline(wgsl::norm_stats_key(spec), [&] { return wgsl::norm_stats_source(spec); });
  dispatch(s, {&x, &stats}, dims.bytes(), groups, spec.groups_x, op);
  dispatch(p, {source, &gamma, &beta, &stats, &y}, dims.bytes(), groups, spec.groups_x, op);
  return y;
}

Tensor WebGpuBackend::group_norm(Tensor x, const Tensor& gamma, const Tensor& beta, int groups, float eps, bool silu) {
  in(x);
  in(gamma);
  in(beta);
  group_norm_shape(name(), x, gamma, beta, groups);
  const int64_t N = x.dim(0), C = x.dim(1);
  u32_count(x.numel(), "group_norm");
  if (x.numel() == 0) return make(x.shape);
  wgsl::NormSpec spec;
  spec.rows = u32_count(N * groups, "group_norm");
  spec.spatial = u32_count(x.numel() / (N * C), "group_norm");
  spec.row_size = u32_count(C / groups * spec.spatial, "group_norm");
  spec.groups = static_cast<uint32_t>(groups);
  spec.silu = silu;
  spec.in_place = x.sole_owner() && buf(x).storage == wgsl::Storage::F32;  // never a (float16) weight
  return norm(spec, x, gamma, beta, eps, "group_norm");
}

Tensor WebGpuBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  in(x);
  in(gamma);
  in(beta);
  layer_norm_shape(name(), x, gamma, beta);
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
  add_channel_shape(name(), x, v);
  if (x.numel() == 0) return make(x.shape);
  return elementwise(wgsl::ElementwiseOp::AddChannel, x, &v, 0.0f, u32_count(x.numel() / v.numel(), "add_channel"));
}

Tensor WebGpuBackend::geglu(const Tensor& x) {
  in(x);
  const Shape os = geglu_shape(name(), x);
  if (numel(os) == 0) return make(os);
  return elementwise(wgsl::ElementwiseOp::GEGLU, x, nullptr, 0.0f, u32_count(os.back(), "geglu"), &os);
}

Tensor WebGpuBackend::nchw_to_nlc(const Tensor& x) {
  in(x);
  const Shape os = nchw_to_nlc_shape(name(), x);  // [N, S, C]
  wgsl::LayoutSpec spec;
  spec.op = wgsl::LayoutOp::Nchw2Nlc;
  spec.a = u32_count(os[0], "nchw_to_nlc");
  spec.b = u32_count(os[2], "nchw_to_nlc");
  spec.c = u32_count(os[1], "nchw_to_nlc");
  return layout(spec, os, x, nullptr, "nchw_to_nlc");
}

Tensor WebGpuBackend::nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  in(x);
  const Shape os = nlc_to_nchw_shape(name(), x, h, w);  // [N, C, h, w]
  wgsl::LayoutSpec spec;
  spec.op = wgsl::LayoutOp::Nlc2Nchw;
  spec.a = u32_count(os[0], "nlc_to_nchw");
  spec.b = u32_count(os[1], "nlc_to_nchw");
  spec.c = u32_count(h * w, "nlc_to_nchw");
  return layout(spec, os, x, nullptr, "nlc_to_nchw");
}

Tensor WebGpuBackend::upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  in(x);
  const Shape os = upsample_nearest_shape(name(), x, out_h, out_w);
  if (numel(os) == 0) return make(os);
  wgsl::LayoutSpec spec;
  spec.op = wgsl::LayoutOp::Upsample;
  spec.a = u32_count(x.dim(0) * x.dim(1), "upsample_nearest");
  spec.b = u32_count(x.dim(2), "upsample_nearest");
  spec.c = u32_count(x.dim(3), "upsample_nearest");
  spec.d = u32_count(out_h, "upsample_nearest");
  spec.e = u32_count(out_w, "upsample_nearest");
  return layout(spec, os, x, nullptr, "upsample_nearest");
}

Tensor WebGpuBackend::concat_channels(const Tensor& a, const Tensor& b) {
  in(a);
  in(b);
  const Shape os = concat_channels_shape(name(), a, b);
  int64_t S = 1;
  for (size_t i = 2; i < os.size(); ++i) S *= os[i];
  wgsl::LayoutSpec spec;
  spec.op = wgsl::LayoutOp::Concat;
  spec.a = u32_count(a.dim(0), "concat_channels");
  spec.b = u32_count(a.dim(1), "concat_channels");
  spec.c = u32_count(b.dim(1), "concat_channels");
  spec.d = u32_count(S, "concat_channels");
  return layout(spec, os, a, &b, "concat_channels");
}

Tensor WebGpuBackend::embedding(const Tensor& table, std::span<const int> ids) {
  in(table);
  const Shape os = embedding_shape(name(), table, ids);
  const int64_t V = table.dim(0), C = table.dim(1);
  if (numel(os) == 0) return make(os);
  // The ids travel as the bits of u32 in an f32 tensor (the kernel bitcasts them back).
  std::vector<float> bits(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto u = static_cast<uint32_t>(ids[i]);
    std::memcpy(&bits[i], &u, sizeof u);
  }
  const Tensor id_buf = upload({static_cast<int64_t>(ids.size())}, bits);
  wgsl::LayoutSpec spec;
  spec.op = wgsl::LayoutOp::Embedding;
  spec.a = u32_count(static_cast<int64_t>(ids.size()), "embedding");
  spec.b = u32_count(C, "embedding");
  spec.c = u32_count(V, "embedding");
  return layout(spec, os, table, &id_buf, "embedding");
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

bool WebGpuBackend::tensor_cores_take(const Tensor& w, uint32_t k, uint32_t weight_rows) const {
  const GpuBuffer& wb = buf(w);
  return limits_.tensor_cores && limits_.subgroup_size > 0 && wb.storage == wgsl::Storage::F16 && wb.ids.size() == 1 &&
         wgsl::tensor_core_gemm_fits(k, weight_rows);
}

void WebGpuBackend::tensor_core_gemm(wgsl::TensorCoreGemmSpec spec, const Tensor& x, const Tensor& w, const Tensor* b,
                                     const Fusion& fusion, const Tensor& y, const char* op) {
  const Tensor *channel_add = fusion.channel_add, *residual = fusion.residual;
  const uint64_t rows = wgsl::tensor_core_rows(spec), unit = wgsl::kTensorCorePackRows;
  const uint64_t budget = std::min({kPackBudget, limits_.max_storage_buffer_binding_size, limits_.max_buffer_size});
  // Ranges bound the packed matrix: a staged product that gathers x itself (any but a GEGLU
  // linear's) packs nothing and runs whole, one dispatch with every tile in flight (the VAE's 512²
  // convs had run in 9 to 18 ranges, each too small to fill the GPU without a split over K).
  const uint64_t pack_fit = budget / (uint64_t{spec.k} * 2) / unit * unit;
  uint64_t fit = spec.geglu ? pack_fit : (rows + 4 * unit - 1) / (4 * unit) * (4 * unit);
  // Over several ranges, they are as even as whole units allow: a range's gemm covers all of its
  // rows, filled or not. Pairs of units where they fit, so that the staged layouts' pairs of tiles
  // still divide a range. Where no staged layout divides the rows (an odd number of units: a
  // resolution whose latents are not a multiple of 8 a side), pairs, then fours of units: padding
  // rows cost less than the unstaged kernel, which would also be one more pipeline to compile.
  spec.subgroup = limits_.subgroup_size;
  const auto stage_in = [&](uint64_t step) {
    uint64_t per = (rows + step - 1) / step * step;
    if (per > fit) {
      const uint64_t pair = std::max(step, fit >= 2 * unit ? 2 * unit : unit), most = fit / pair * pair;
      const uint64_t ranges = (rows + most - 1) / most;
      per = ((rows + ranges - 1) / ranges + pair - 1) / pair * pair;
    }
    spec.pack_rows = static_cast<uint32_t>(per);
    wgsl::tensor_core_stage(spec, limits_.max_workgroup_storage);
    return spec.chunk > 0;
  };
  const auto check_fit = [&] {
    check(fit > 0, op, "a row of " + std::to_string(spec.k) + " float16 values does not fit " + std::to_string(budget) +
                           " bytes of one binding");
  };
  check_fit();
  if (!stage_in(unit) && !(fit >= 2 * unit && stage_in(2 * unit)) && !(fit >= 4 * unit && stage_in(4 * unit))) {
    fit = pack_fit;  // no staged layout fits this device: the unstaged kernel, which packs, on the fewest rows
    check_fit();
    stage_in(unit);
  }
  spec.splits = wgsl::tensor_core_splits(spec, budget);
  spec.x = view(x);
  const bool packs = wgsl::tensor_core_packs(spec), split = spec.splits > 1;
  std::optional<Tensor> packed;  // the activation operand in float16, where tensor_core_packs
  if (packs) packed = make({spec.pack_rows, spec.k}, wgsl::Storage::F16);
  const Tensor& a = packs ? *packed : x;
  std::optional<Tensor> partial;  // at most the budget, so a single buffer like `packed`
  if (split) partial = make({static_cast<int64_t>(wgsl::tensor_core_partial_values(spec))});
  wgsl::TensorCoreGemmSpec pack = spec, gemm = spec, reduce = spec;
  const uint32_t pack_groups = packs ? wgsl::tensor_core_pack_groups(spec) : 0;
  const uint32_t gemm_groups = wgsl::tensor_core_gemm_groups(spec), reduce_groups = split ? wgsl::tensor_core_reduce_groups(spec) : 0;
  pack.groups_x = grid_width(pack_groups);
  gemm.groups_x = grid_width(gemm_groups);
  reduce.groups_x = grid_width(reduce_groups);
  const uint32_t pack_pipeline =
      packs ? pipeline(wgsl::tensor_core_pack_key(pack), [&] { return wgsl::tensor_core_pack_source(pack); }) : 0;
  const uint32_t gemm_pipeline = pipeline(wgsl::tensor_core_gemm_key(gemm), [&] { return wgsl::tensor_core_gemm_source(gemm); });
  const uint32_t reduce_pipeline =
      split ? pipeline(wgsl::tensor_core_reduce_key(reduce), [&] { return wgsl::tensor_core_reduce_source(reduce); }) : 0;
  wgsl::Dims pack_dims = wgsl::tensor_core_dims(pack), gemm_dims = wgsl::tensor_core_dims(gemm),
             reduce_dims = wgsl::tensor_core_dims(reduce);
  for (uint32_t p0 = 0; p0 < rows; p0 += spec.pack_rows) {
    for (wgsl::Dims* d : {&pack_dims, &gemm_dims, &reduce_dims}) d->set("P0", p0);
    if (packs) dispatch(pack_pipeline, {&x, &*packed}, pack_dims.bytes(), pack_groups, pack.groups_x, op);
    if (!split) {
      dispatch(gemm_pipeline, {&a, &w, b, channel_add, residual, &y}, gemm_dims.bytes(), gemm_groups, gemm.groups_x, op);
      continue;
    }
    dispatch(gemm_pipeline, {&a, &w, &*partial}, gemm_dims.bytes(), gemm_groups, gemm.groups_x, op);
    dispatch(reduce_pipeline, {&*partial, b, channel_add, residual, &y}, reduce_dims.bytes(), reduce_groups, reduce.groups_x, op);
  }
}

namespace {

// The views of a product's bias, per-channel add, residual and output y.
wgsl::ProductOutput product_output(const Tensor* b, const Fusion& e, const Tensor& y) {
  wgsl::ProductOutput out;
  out.bias = b != nullptr;
  out.residual = e.residual != nullptr;
  out.channel_add = e.channel_add != nullptr;
  if (b) out.b = view(*b);
  if (e.channel_add) out.cb = view(*e.channel_add);
  if (e.residual) out.r = view(*e.residual);
  out.y = view(y);
  if (e.image()) out.image_pixels = u32_count(e.image_h * e.image_w, "linear");
  return out;
}

}  // namespace

Tensor WebGpuBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b, const Fusion& e) {
  in(x);
  in(w);
  if (b) in(*b);
  if (e.residual) in(*e.residual);
  const Shape os = linear_shape(name(), x, w, b, e);
  wgsl::MatmulSpec spec;
  spec.m = u32_count(numel(Shape(x.shape.begin(), x.shape.end() - 1)), "linear");
  spec.n = u32_count(w.dim(0), "linear");
  spec.k = u32_count(w.dim(1), "linear");
  spec.geglu = e.geglu;
  Tensor y = make(os);
  if (y.numel() == 0) return y;
  spec.out = product_output(b, e, y);
  if (tensor_cores_take(w, spec.k, spec.n)) {
    tensor_core_gemm(wgsl::tensor_core_spec(spec), x, w, b, e, y, "linear");
    return y;
  }
  spec.x = view(x);
  spec.w = view(w);
  // Tiles numbered row by row over a grid wrapped at the device's width.
  const uint32_t tiles = wgsl::matmul_tiles(spec);
  spec.groups_x = grid_width(tiles);
  const uint32_t p = pipeline(wgsl::matmul_key(spec), [&] { return wgsl::matmul_source(spec); });
  const wgsl::Dims dims = wgsl::matmul_dims(spec);
  dispatch(p, {&x, &w, b, e.channel_add, e.residual, &y}, dims.bytes(), tiles, spec.groups_x, "linear");
  return y;
}

Tensor WebGpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, const Fusion& e) {
  in(x);
  in(w);
  if (b) in(*b);
  if (e.residual) in(*e.residual);
  if (e.channel_add) in(*e.channel_add);
  const ConvGeometry g = conv2d_geometry(name(), x, w, b, p, e);
  Tensor y = make(g.output_shape());
  if (y.numel() == 0) return y;
  // The kernel has no reduction of depth 0.
  check(w.numel() > 0, "conv2d", "weight " + shape_str(w.shape) + " is empty");
  wgsl::Conv2dSpec spec;
  spec.batch = u32_count(g.batch, "conv2d");
  spec.in_channels = u32_count(g.in_channels, "conv2d");
  spec.in_h = u32_count(g.in_h, "conv2d");
  spec.in_w = u32_count(g.in_w, "conv2d");
  spec.out_channels = u32_count(g.out_channels, "conv2d");
  spec.kernel_h = u32_count(g.kernel_h, "conv2d");
  spec.kernel_w = u32_count(g.kernel_w, "conv2d");
  spec.out_h = u32_count(g.out_h, "conv2d");
  spec.out_w = u32_count(g.out_w, "conv2d");
  spec.stride = static_cast<uint32_t>(p.stride);
  spec.pad_top = static_cast<uint32_t>(p.pad_top);
  spec.pad_left = static_cast<uint32_t>(p.pad_left);
  spec.out = product_output(b, e, y);
  if (tensor_cores_take(w, u32_count(w.numel() / g.out_channels, "conv2d"), spec.out_channels)) {
    tensor_core_gemm(wgsl::tensor_core_spec(spec), x, w, b, e, y, "conv2d");
    return y;
  }
  spec.x = view(x);
  spec.w = view(w);
  // Tiles numbered row by row over a grid wrapped at the device's width.
  const uint32_t tiles = wgsl::conv2d_tiles(spec);
  spec.groups_x = grid_width(tiles);
  const uint32_t pl = pipeline(wgsl::conv2d_key(spec), [&] { return wgsl::conv2d_source(spec); });
  const wgsl::Dims dims = wgsl::conv2d_dims(spec);
  dispatch(pl, {&x, &w, b, e.channel_add, e.residual, &y}, dims.bytes(), tiles, spec.groups_x, "conv2d");
  return y;
}

uint32_t WebGpuBackend::tensor_core_query_tiles(const wgsl::AttentionSpec& a) const {
  if (!limits_.tensor_cores || limits_.subgroup_size == 0) return 0;
  wgsl::TensorCoreAttentionSpec s = wgsl::tensor_core_spec(a);
  s.subgroup = limits_.subgroup_size;
  for (s.query_tiles = 2; s.query_tiles > 0; --s.query_tiles) {
    if (wgsl::tensor_core_attention_workgroup_bytes(s) > limits_.max_workgroup_storage ||
        !wgsl::tensor_core_attention_lanes_per_row(s))
      continue;
    const uint64_t binding = std::min(limits_.max_storage_buffer_binding_size, limits_.max_buffer_size);
    bool packs_fit = true;
    for (const wgsl::AttentionPackSpec& p : {wgsl::tensor_core_pack_q(s), wgsl::tensor_core_pack_k(s), wgsl::tensor_core_pack_v(s)})
      packs_fit = packs_fit && wgsl::attention_pack_values(p) * 2 <= binding && wgsl::attention_pack_values(p) <= UINT32_MAX;
    return packs_fit ? s.query_tiles : 0;
  }
  return 0;
}

void WebGpuBackend::tensor_core_attention(const wgsl::AttentionSpec& a, uint32_t query_tiles, const Tensor& q,
                                          const Tensor& k, const Tensor& v, const Tensor& y) {
  wgsl::TensorCoreAttentionSpec s = wgsl::tensor_core_spec(a);
  s.query_tiles = query_tiles;
  s.subgroup = limits_.subgroup_size;
  s.y = view(y);
  const std::pair<wgsl::AttentionPackSpec, const Tensor*> packs[] = {
      {wgsl::tensor_core_pack_q(s), &q}, {wgsl::tensor_core_pack_k(s), &k}, {wgsl::tensor_core_pack_v(s), &v}};
  std::vector<Tensor> packed;
  for (const auto& [spec, input] : packs) {
    wgsl::AttentionPackSpec pack = spec;
    pack.x = view(*input);
    const uint32_t groups = wgsl::f16_pack_groups(wgsl::attention_pack_values(pack) / 2);
    pack.groups_x = grid_width(groups);
    packed.push_back(make({static_cast<int64_t>(wgsl::attention_pack_values(pack))}, wgsl::Storage::F16));
    const uint32_t p = pipeline(wgsl::attention_pack_key(pack), [&] { return wgsl::attention_pack_source(pack); });
    const wgsl::Dims dims = wgsl::attention_pack_dims(pack);
    dispatch(p, {input, &packed.back()}, dims.bytes(), groups, pack.groups_x, "attention");
  }
  const uint32_t groups = wgsl::tensor_core_attention_groups(s);
  s.groups_x = grid_width(groups);
  const uint32_t p = pipeline(wgsl::tensor_core_attention_key(s), [&] { return wgsl::tensor_core_attention_source(s); });
  const wgsl::Dims dims = wgsl::tensor_core_attention_dims(s);
  dispatch(p, {&packed[0], &packed[1], &packed[2], &y}, dims.bytes(), groups, s.groups_x, "attention");
}

Tensor WebGpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  in(q);
  in(k);
  in(v);
  const AttentionGeometry g = attention_geometry(name(), q, k, v, heads, causal);
  Tensor y = make(g.output_shape());
  if (y.numel() == 0) return y;
  // The kernel has no scores of width 0.
  check(g.channels > 0, "attention", "q " + shape_str(q.shape) + " has no channels to score with");
  wgsl::AttentionSpec spec;
  spec.batch = u32_count(g.batch, "attention");
  spec.heads = static_cast<uint32_t>(heads);
  spec.lq = u32_count(g.lq, "attention");
  spec.lk = u32_count(g.lk, "attention");
  spec.head_dim = u32_count(g.channels / heads, "attention");
  spec.value_dim = u32_count(g.value_channels / heads, "attention");
  spec.causal = causal;
  if (const uint32_t query_tiles = tensor_core_query_tiles(spec)) {
    tensor_core_attention(spec, query_tiles, q, k, v, y);
    return y;
  }
  spec.q = view(q);
  spec.k = view(k);
  spec.v = view(v);
  spec.y = view(y);
  // Workgroups numbered row by row over a grid wrapped at the device's width.
  const uint32_t groups = wgsl::attention_workgroups(spec);
  spec.groups_x = grid_width(groups);
  const uint32_t pl = pipeline(wgsl::attention_key(spec), [&] { return wgsl::attention_source(spec); });
  const wgsl::Dims dims = wgsl::attention_dims(spec);
  dispatch(pl, {&q, &k, &v, &y}, dims.bytes(), groups, spec.groups_x, "attention");
  return y;
}

}  // namespace websd
