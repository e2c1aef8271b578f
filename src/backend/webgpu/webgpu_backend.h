#pragma once
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/webgpu/buffer_pool.h"
#include "backend/webgpu/gpu_host.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd {
namespace wgsl {
enum class ElementwiseOp;  // kernels/elementwise.h
struct LayoutSpec;         // kernels/layout.h
struct NormSpec;           // kernels/norm.h
struct TensorCoreGemmSpec;  // kernels/tensor_core_gemm.h
struct AttentionSpec;       // kernels/attention.h
enum class GemmKind;
}

// The WebGPU backend: tensors in GPU storage buffers behind a GpuHost (activations float32,
// weights float16 packed in u32; linear and conv2d on the tensor cores in float16 where the device
// has them, float32 elsewhere; a tensor above maxStorageBufferBindingSize split over several
// buffers), buffers reused through a pool by liveness, kernels generated as WGSL specialised on
// what shapes their code (tiles, taps, fused ops, storage) with the sizes in a uniform, so that a
// pipeline serves every shape of an op (kernels/dims.h).
class WebGpuBackend : public Backend {
 public:
  explicit WebGpuBackend(std::shared_ptr<GpuHost> host);
  ~WebGpuBackend() override;
  WebGpuBackend(const WebGpuBackend&) = delete;
  WebGpuBackend& operator=(const WebGpuBackend&) = delete;
  std::string name() const override { return "webgpu"; }

  Tensor upload(const Shape& shape, std::span<const float> data) override;
  using Backend::upload;
  // Stored as float16 (values rounded to nearest even).
  Tensor upload_weight(const Shape& shape, std::span<const float> data) override;
  // Stored as given (float16 or float32), the bytes copied to the GPU as they are: an artifact's
  // shards are in the layout the kernels read.
  Tensor upload_weight_bytes(const Shape& shape, const WeightBytes& bytes) override;
  std::vector<float> download(const Tensor& t) override;
  // kernels: dispatches; live_bytes and peak_bytes: every buffer held, pooled ones included.
  BackendStats stats() const override;
  void reset_peak() override;
  void trim() override;
  void set_reuse(Reuse reuse) override;

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

  int64_t tensor_bytes() const { return pool_->in_use_bytes(); }  // held by live tensors

 private:
  Tensor make(const Shape& shape, wgsl::Storage storage = wgsl::Storage::F32,
              BufferPool::Fit fit = BufferPool::Fit::Rounded);
  // Elements per buffer of a split tensor: what one binding may hold on this device.
  int64_t chunk_elems(wgsl::Storage storage) const;
  uint32_t pipeline(const std::string& key, const std::function<std::string()>& make_source);
  // Workgroups per grid row when `groups` workgroups are numbered row by row over a grid wrapped at
  // the device's maxComputeWorkgroupsPerDimension (kernels bake it in as a constant).
  uint32_t grid_width(uint32_t groups) const;
  // Binds the tensors (null ones skipped) and dispatches `groups` workgroups, `width` per row;
  // checks the grid and the number of bindings against the device's limits first.
  void dispatch(uint32_t pipeline, std::initializer_list<const Tensor*> tensors, std::span<const uint8_t> uniforms,
                uint32_t groups, uint32_t width, const char* op);
  // b for add and add_channel, s for scale; inner and the output shape for add_channel and geglu.
  Tensor elementwise(wgsl::ElementwiseOp op, const Tensor& x, const Tensor* b, float s, uint32_t inner = 0,
                     const Shape* out_shape = nullptr);
  // One workgroup per normalised row (kernels/norm.h).
  Tensor norm(wgsl::NormSpec spec, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, const char* op);
  // Whether a product with weight w [weight_rows, k] runs on the tensor cores: the device has them
  // and w is one float16 binding of whole 16s.
  bool tensor_cores_take(const Tensor& w, uint32_t k, uint32_t weight_rows) const;
  // Linear or conv2d (spec's dims set) on the tensor cores into y, over ranges of rows whose packed
  // float16 operand fits one binding.
  void tensor_core_gemm(wgsl::TensorCoreGemmSpec spec, const Tensor& x, const Tensor& w, const Tensor* b,
                        const Fusion& fusion, const Tensor& y, const char* op);
  // The 16-row query tiles per workgroup attention runs with on the tensor cores (2, or 1 where
  // workgroup memory is short), or 0 for the float32 kernel: the device has no tensor cores, or the
  // kernel's workgroup memory or a float16 pack does not fit its limits.
  uint32_t tensor_core_query_tiles(const wgsl::AttentionSpec& spec) const;
  void tensor_core_attention(const wgsl::AttentionSpec& spec, uint32_t query_tiles, const Tensor& q, const Tensor& k,
                             const Tensor& v, const Tensor& y);
  // One invocation per output value of a layout kernel (kernels/layout.h), the grid wrapped into rows.
  Tensor layout(wgsl::LayoutSpec spec, const Shape& out_shape, const Tensor& in0, const Tensor* in1, const char* op);

  std::shared_ptr<GpuHost> host_;
  GpuLimits limits_;
  std::shared_ptr<BufferPool> pool_;
  std::map<std::string, uint32_t> pipelines_;
  uint64_t dispatches_ = 0;
  double compile_ms_ = 0;
};

}  // namespace websd
