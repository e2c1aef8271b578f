#pragma once
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace websd {

// Storage owned by a backend (host memory, a GPU buffer). Tensors share it through shared_ptr, so
// an intermediate is freed the moment the last Tensor that refers to it goes out of scope.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
};

struct Tensor {
  Shape shape;
  std::shared_ptr<DeviceBuffer> buffer;

  int64_t numel() const { return websd::numel(shape); }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? static_cast<int>(shape.size()) + i : i)]; }
  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape new_shape) const;
  // No other Tensor refers to this storage: an op that took the tensor by value (its caller moved the
  // last reference in) may write its result there rather than into a new tensor.
  bool sole_owner() const { return buffer && buffer.use_count() == 1; }
};

struct Conv2dParams {
  int stride = 1;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  static Conv2dParams same(int pad, int stride = 1) { return {stride, pad, pad, pad, pad}; }
};

enum class UnaryOp { SiLU, GELU, QuickGELU };

// Ops a product (linear, conv2d) does as it reads its input or writes its output, where they would
// otherwise precede or follow it as ops of their own: fused, they cost no pass over memory, no
// dispatch and (on the GPU) no tensor in between. The values are those of the separate ops.
struct Fusion {
  // Output, linear only: the tokens [N, h·w, C] laid out as the image [N, C, h, w] (nlc_to_nchw).
  int64_t image_h = 0, image_w = 0;
  // Output: added to it (add, with the residual first), in the output's final shape.
  const Tensor* residual = nullptr;
  // Input, linear only: x [..., 2K] read as geglu(x) [..., K].
  bool geglu = false;
  // Output, conv2d only: [N, C] added to every pixel of channel c of image n (add_channel), before
  // the residual.
  const Tensor* channel_add = nullptr;

  bool image() const { return image_h > 0 || image_w > 0; }
};

// A weight's values as an artifact shard stores them (little-endian float16 or float32, in the
// layout the ops read): in the engine's memory, or held by the GPU host under a staging id (the
// web build hands shards straight from the network or the cache to the GPU, so their bytes never
// enter WebAssembly memory).
struct WeightBytes {
  enum class DType { F16, F32 };
  DType dtype = DType::F16;
  std::span<const uint8_t> host;  // the bytes, when the engine holds them
  uint32_t staged = 0;            // else: the GPU host's staging id (web/host/gpu_host.mjs)
  uint64_t staged_offset = 0;     // where the weight starts in the staged bytes

  size_t element_size() const { return dtype == DType::F16 ? 2 : 4; }
};

// What a backend has done, read before and after a stage for the per-stage report.
struct BackendStats {
  uint64_t kernels = 0;     // kernel launches so far (GPU dispatches; ops on the CPU)
  int64_t live_bytes = 0;   // device memory held now (for a GPU: buffers alive, pooled ones included)
  int64_t peak_bytes = 0;   // the most held at once since reset_peak()
  uint64_t pipelines = 0;   // GPU pipelines compiled so far (none on the CPU)
  double compile_ms = 0;    // wall time spent compiling them
};

// The operations the three Stable Diffusion models are built from. Images are NCHW, sequences
// [batch, length, channels]; weights keep PyTorch's layouts (Linear [out, in], Conv [out, in, kh, kw]).
// Every op returns a new tensor and leaves its inputs untouched, but for an input it takes by value
// and is handed the last reference to (Tensor::sole_owner).
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // False for a backend that keeps shapes only (ShapeOnlyBackend): weights are then not read.
  virtual bool holds_values() const { return true; }

  virtual Tensor upload(const Shape& shape, std::span<const float> data) = 0;
  Tensor upload(const HostTensor& t) { return upload(t.shape, t.data); }
  // A model parameter: read by the ops, never written. A backend may keep it in a narrower type
  // (the WebGPU backend keeps float16); the values must be exact in that type, as checkpoints'
  // float16 weights are.
  virtual Tensor upload_weight(const Shape& shape, std::span<const float> data) { return upload(shape, data); }
  // A parameter from its stored bytes. The default decodes host bytes to float32 for
  // upload_weight; staged bytes need a backend that can reach the GPU host's staging.
  virtual Tensor upload_weight_bytes(const Shape& shape, const WeightBytes& bytes);
  virtual std::vector<float> download(const Tensor& t) = 0;
  HostTensor to_host(const Tensor& t) { return HostTensor(t.shape, download(t)); }

  virtual BackendStats stats() const = 0;
  virtual void reset_peak() = 0;
  // Gives back memory kept for reuse (the WebGPU backend's pooled buffers). The pipeline calls it
  // where the tensors' sizes change (before the VAE decode, after a generation), so each stage's
  // peak is what it holds live rather than what earlier stages left pooled.
  virtual void trim() {}
  // How the backend keeps freed memory for reuse (the WebGPU backend's buffer pool). Repeating
  // keeps every freed buffer for the next request of its size: a loop whose iterations allocate
  // the same sizes in the same order (the denoising steps) allocates nothing after the first.
  // Once gives idle buffers back as soon as a request of a new size needs the room: a pass of many
  // sizes that runs once (the VAE decode) then holds little more than what is live, where keeping
  // every size would hold two to three times that.
  enum class Reuse { Repeating, Once };
  virtual void set_reuse(Reuse) {}

  // Where a run may stop inside a stage: the models call stop_point() between their blocks (a
  // text encoder's layers, a UNet's and a VAE decoder's blocks), which asks the check set here, if
  // any; the check throws to stop the run. A pipeline sets its own for each generation (GenerateParams::
  // stop_check). Work the backend recorded and did not run yet is dropped or runs unread: the
  // tensors it writes are freed as the exception unwinds, and the backend serves the next run as before.
  void set_stop_check(std::function<void()> check) { stop_check_ = std::move(check); }
  void stop_point() const {
    if (stop_check_) stop_check_();
  }

  // x [..., K] · w [N, K]ᵀ + b [N] → [..., N]; b may be null.
  virtual Tensor linear(const Tensor& x, const Tensor& w, const Tensor* b, const Fusion& fusion = {}) = 0;
  // x [N, Cin, H, W], w [Cout, Cin, kh, kw], b [Cout] or null.
  virtual Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p,
                        const Fusion& fusion = {}) = 0;
  // Normalises each of `groups` channel groups of x [N, C, ...]; then SiLU when silu is set. Handed
  // its last reference (std::move), x is normalised in place: the decode's largest activations
  // then never exist twice.
  virtual Tensor group_norm(Tensor x, const Tensor& gamma, const Tensor& beta, int groups, float eps, bool silu) = 0;
  // Normalises the last dimension.
  virtual Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) = 0;
  virtual Tensor unary(const Tensor& x, UnaryOp op) = 0;
  // a + b where b's shape equals the trailing dimensions of a's (b is repeated over the rest).
  virtual Tensor add(const Tensor& a, const Tensor& b) = 0;
  // x [N, C, ...] + v [N, C] broadcast over the spatial dimensions.
  virtual Tensor add_channel(const Tensor& x, const Tensor& v) = 0;
  virtual Tensor scale(const Tensor& x, float s) = 0;
  // x [..., 2D] → first half · gelu(second half) → [..., D] (diffusers' GEGLU).
  virtual Tensor geglu(const Tensor& x) = 0;
  // Multi-head scaled dot-product attention: q [B, Lq, C], k and v [B, Lk, C] → [B, Lq, C], with
  // C split into `heads` heads; causal masks key j > query i.
  virtual Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) = 0;
  virtual Tensor nchw_to_nlc(const Tensor& x) = 0;                // [N, C, H, W] → [N, H·W, C]
  virtual Tensor nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) = 0;  // inverse
  // [N, C, H, W] → [N, C, out_h, out_w], picking source pixels the way torch's 'nearest' does.
  virtual Tensor upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) = 0;
  virtual Tensor concat_channels(const Tensor& a, const Tensor& b) = 0;  // along dim 1
  // Rows of table [V, C] picked by ids → [ids.size(), C].
  virtual Tensor embedding(const Tensor& table, std::span<const int> ids) = 0;

 private:
  std::function<void()> stop_check_;
};

}  // namespace websd
