#pragma once
#include <functional>
#include <memory>

#include "backend/backend.h"

namespace websd {

// A backend whose tensors have shapes and no values. Models built on it check every weight's
// shape against their config and nothing more: the converter builds a model this way to learn
// which tensors it reads, and the artifact loader to check a manifest against its configs before
// a byte of weights is downloaded. Its ops apply the shape rules (op_shapes.h) and count the bytes
// their float32 outputs would hold, so a forward pass run on it is a dry run that measures the
// live-tensor peak of the same pass on a real backend (the VAE decode's tiling budget) without
// computing anything. Reading a value back is an error.
class ShapeOnlyBackend : public Backend {
 public:
  ShapeOnlyBackend();
  std::string name() const override { return "shape-only"; }
  bool holds_values() const override { return false; }

  Tensor upload(const Shape& shape, std::span<const float> data) override;
  using Backend::upload;
  Tensor upload_weight_bytes(const Shape& shape, const WeightBytes& bytes) override;
  std::vector<float> download(const Tensor& t) override;
  // Bytes the live tensors would hold (4 per value, weights included), and the most at once.
  BackendStats stats() const override;
  void reset_peak() override;

  Tensor linear(const Tensor& x, const Tensor& w, const Tensor* b, const Fusion& fusion = {}) override;
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p,
                const Fusion& fusion = {}) override;
  Tensor group_norm(Tensor x, const Tensor& gamma, const Tensor& beta, int groups, float eps, bool silu) override;
  Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) override;
  Tensor unary(const Tensor& x, UnaryOp op) override;
  Tensor add(const Tensor& a, const Tensor& b) override;
  Tensor add_channel(const Tensor& x, const Tensor& v) override;
  Tensor scale(const Tensor& x, float s) override;
  Tensor geglu(const Tensor& x) override;
  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) override;
  Tensor nchw_to_nlc(const Tensor& x) override;
  Tensor nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) override;
  Tensor upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) override;
  Tensor concat_channels(const Tensor& a, const Tensor& b) override;
  Tensor embedding(const Tensor& table, std::span<const int> ids) override;

  struct Accounting {
    uint64_t ops = 0;
    int64_t live = 0, peak = 0;
  };

 private:
  Tensor make(const Shape& shape, bool op);
  std::shared_ptr<Accounting> accounting_;
};

}  // namespace websd
