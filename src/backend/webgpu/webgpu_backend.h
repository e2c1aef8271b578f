#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/webgpu/gpu_host.h"

namespace websd {
namespace wgsl {
enum class ElementwiseOp;  // kernels/elementwise.h
struct LayoutSpec;         // kernels/layout.h
struct NormSpec;           // kernels/norm.h
}

// The WebGPU backend: float32 storage buffers on the GPU behind a GpuHost, kernels generated as
// WGSL specialised on the shapes of each call (pipelines cached by op and shapes). In progress:
// the ops not yet written throw websd::Error naming themselves.
class WebGpuBackend : public Backend {
 public:
  explicit WebGpuBackend(std::shared_ptr<GpuHost> host);
  std::string name() const override { return "webgpu"; }

  Tensor upload(const Shape& shape, std::span<const float> data) override;
  using Backend::upload;
  std::vector<float> download(const Tensor& t) override;

  Tensor linear(const Tensor& x, const Tensor& w, const Tensor* b) override;
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) override;
  Tensor group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                    bool silu) override;
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

  size_t pipeline_count() const { return pipelines_.size(); }

 private:
  Tensor make(const Shape& shape);
  template <class Make>
  uint32_t cached_pipeline(const std::string& key, Make make_source);
  // b for add and add_channel, s for scale; inner and the output shape for add_channel and geglu.
  Tensor elementwise(wgsl::ElementwiseOp op, const Tensor& x, const Tensor* b, float s, uint32_t inner = 0,
                     const Shape* out_shape = nullptr);
  // One workgroup per normalised row (kernels/norm.h).
  Tensor norm(wgsl::NormSpec spec, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, const char* op);
  // One invocation per output value of a layout kernel (kernels/layout.h), the grid wrapped into rows.
  Tensor layout(wgsl::LayoutSpec spec, const Shape& out_shape, std::vector<GpuBinding> inputs, const char* op);

  std::shared_ptr<GpuHost> host_;
  GpuLimits limits_;
  std::map<std::string, uint32_t> pipelines_;
};

}  // namespace websd
