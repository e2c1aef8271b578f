#pragma once
#include <functional>

#include "backend/backend.h"

namespace websd {

// A backend whose tensors have shapes and no values: models built on it check every weight's
// shape against their config and nothing more. The converter builds a model this way to learn
// which tensors it reads, and the artifact loader to check a manifest against its configs before
// a byte of weights is downloaded. Running any op is an error.
class ShapeOnlyBackend : public Backend {
 public:
  std::string name() const override { return "shape-only"; }
  bool holds_values() const override { return false; }

  Tensor upload(const Shape& shape, std::span<const float> data) override;
  using Backend::upload;
  Tensor upload_weight_bytes(const Shape& shape, const WeightBytes& bytes) override;
  std::vector<float> download(const Tensor& t) override;
  BackendStats stats() const override { return {}; }
  void reset_peak() override {}

  Tensor linear(const Tensor&, const Tensor&, const Tensor*) override { fail("linear"); }
  Tensor conv2d(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&) override { fail("conv2d"); }
  Tensor group_norm(const Tensor&, const Tensor&, const Tensor&, int, float, bool) override { fail("group_norm"); }
  Tensor layer_norm(const Tensor&, const Tensor&, const Tensor&, float) override { fail("layer_norm"); }
  Tensor unary(const Tensor&, UnaryOp) override { fail("unary"); }
  Tensor add(const Tensor&, const Tensor&) override { fail("add"); }
  Tensor add_channel(const Tensor&, const Tensor&) override { fail("add_channel"); }
  Tensor scale(const Tensor&, float) override { fail("scale"); }
  Tensor geglu(const Tensor&) override { fail("geglu"); }
  Tensor attention(const Tensor&, const Tensor&, const Tensor&, int, bool) override { fail("attention"); }
  Tensor nchw_to_nlc(const Tensor&) override { fail("nchw_to_nlc"); }
  Tensor nlc_to_nchw(const Tensor&, int64_t, int64_t) override { fail("nlc_to_nchw"); }
  Tensor upsample_nearest(const Tensor&, int64_t, int64_t) override { fail("upsample_nearest"); }
  Tensor concat_channels(const Tensor&, const Tensor&) override { fail("concat_channels"); }
  Tensor embedding(const Tensor&, std::span<const int>) override { fail("embedding"); }

 private:
  [[noreturn]] static void fail(const char* op);
};

}  // namespace websd
