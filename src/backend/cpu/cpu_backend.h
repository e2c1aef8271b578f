#pragma once
#include <atomic>

#include "backend/backend.h"

namespace websd {

// The reference backend: float32 on the host. It is the oracle the GPU kernels are tested
// against and the fallback where WebGPU is missing.
class CpuBackend : public Backend {
 public:
  CpuBackend();
  std::string name() const override { return "cpu"; }

  // Bytes held by this backend's live tensors now, and the most held at once since reset_peak():
  // how the tests prove that intermediates are freed as soon as they are dead.
  int64_t live_bytes() const { return accounting_->live; }
  int64_t peak_bytes() const { return accounting_->peak; }
  int64_t allocated_bytes() const { return accounting_->allocated; }  // all allocations ever
  void reset_peak() override { accounting_->peak = accounting_->live.load(); }
  BackendStats stats() const override;

  Tensor upload(const Shape& shape, std::span<const float> data) override;
  using Backend::upload;
  std::vector<float> download(const Tensor& t) override;

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
 public:
  struct Accounting {
    std::atomic<int64_t> live{0}, peak{0}, allocated{0};
    std::atomic<uint64_t> ops{0};
  };

 private:
  Tensor make(const Shape& shape);
  std::shared_ptr<Accounting> accounting_;
};

}  // namespace websd
