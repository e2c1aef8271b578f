#include "backend/shape_only_backend.h"

#include <algorithm>

#include "backend/op_shapes.h"
#include "core/error.h"

namespace websd {
namespace {

// No values, only the bytes they would take while a Tensor refers to them.
struct CountedBuffer : DeviceBuffer {
  CountedBuffer(int64_t bytes, std::shared_ptr<ShapeOnlyBackend::Accounting> acc) : bytes(bytes), accounting(std::move(acc)) {
    accounting->live += bytes;
    accounting->peak = std::max(accounting->peak, accounting->live);
  }
  ~CountedBuffer() override { accounting->live -= bytes; }
  CountedBuffer(const CountedBuffer&) = delete;
  CountedBuffer& operator=(const CountedBuffer&) = delete;

  int64_t bytes;
  std::shared_ptr<ShapeOnlyBackend::Accounting> accounting;
};

}  // namespace

ShapeOnlyBackend::ShapeOnlyBackend() : accounting_(std::make_shared<Accounting>()) {}

Tensor ShapeOnlyBackend::make(const Shape& shape, bool op) {
  if (op) ++accounting_->ops;
  return Tensor{shape, std::make_shared<CountedBuffer>(numel(shape) * int64_t{4}, accounting_)};
}

BackendStats ShapeOnlyBackend::stats() const { return {accounting_->ops, accounting_->live, accounting_->peak}; }
void ShapeOnlyBackend::reset_peak() { accounting_->peak = accounting_->live; }

// The values, if any, are dropped unread.
Tensor ShapeOnlyBackend::upload(const Shape& shape, std::span<const float>) { return make(shape, false); }

Tensor ShapeOnlyBackend::upload_weight_bytes(const Shape& shape, const WeightBytes&) { return make(shape, false); }

std::vector<float> ShapeOnlyBackend::download(const Tensor&) {
  throw Error("shape-only backend: 'download' needs values; this backend only checks shapes");
}

// The fusion as the CPU backend runs it: a geglu input made first, the output's ops in the output.
Tensor ShapeOnlyBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b, const Fusion& e) {
  const Shape os = linear_shape(name(), x, w, b, e);
  [[maybe_unused]] const Tensor input = e.geglu ? geglu(x) : x;  // held while the output is made
  return make(os, true);
}
Tensor ShapeOnlyBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p,
                                const Fusion& e) {
  return make(conv2d_geometry(name(), x, w, b, p, e).output_shape(), true);
}
Tensor ShapeOnlyBackend::group_norm(Tensor x, const Tensor& gamma, const Tensor& beta, int groups, float, bool) {
  const Shape shape = group_norm_shape(name(), x, gamma, beta, groups);
  return x.sole_owner() ? x : make(shape, true);  // in place, as the other backends
}
Tensor ShapeOnlyBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float) {
  return make(layer_norm_shape(name(), x, gamma, beta), true);
}
Tensor ShapeOnlyBackend::unary(const Tensor& x, UnaryOp) { return make(x.shape, true); }
Tensor ShapeOnlyBackend::add(const Tensor& a, const Tensor& b) { return make(add_shape(name(), a, b), true); }
Tensor ShapeOnlyBackend::add_channel(const Tensor& x, const Tensor& v) {
  return make(add_channel_shape(name(), x, v), true);
}
Tensor ShapeOnlyBackend::scale(const Tensor& x, float) { return make(x.shape, true); }
Tensor ShapeOnlyBackend::geglu(const Tensor& x) { return make(geglu_shape(name(), x), true); }
Tensor ShapeOnlyBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  return make(attention_geometry(name(), q, k, v, heads, causal).output_shape(), true);
}
Tensor ShapeOnlyBackend::nchw_to_nlc(const Tensor& x) { return make(nchw_to_nlc_shape(name(), x), true); }
Tensor ShapeOnlyBackend::nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  return make(nlc_to_nchw_shape(name(), x, h, w), true);
}
Tensor ShapeOnlyBackend::upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  return make(upsample_nearest_shape(name(), x, out_h, out_w), true);
}
Tensor ShapeOnlyBackend::concat_channels(const Tensor& a, const Tensor& b) {
  return make(concat_channels_shape(name(), a, b), true);
}
Tensor ShapeOnlyBackend::embedding(const Tensor& table, std::span<const int> ids) {
  return make(embedding_shape(name(), table, ids), true);
}

}  // namespace websd
