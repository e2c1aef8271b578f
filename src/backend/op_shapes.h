#pragma once
// The ops' shape rules, shared by every backend: one function per op that checks its arguments'
// shapes (the same Tensor arguments as the Backend op; only their shapes are read) and returns the
// output's shape, or its geometry for conv2d and attention. A violation throws websd::Error
// "<backend> backend: <op>: <what is wrong>", naming the offending shapes. Whether a tensor lives
// on the backend, and limits of one backend's kernels, stay with that backend.
#include <span>
#include <string>
#include <string_view>

#include "backend/backend.h"
#include "core/error.h"

namespace websd {

// The one format of a backend op's errors.
Error op_error(std::string_view backend, std::string_view op, const std::string& what);

struct ConvGeometry {
  int64_t batch, in_channels, in_h, in_w;
  int64_t out_channels, kernel_h, kernel_w, out_h, out_w;
  Conv2dParams params;
  Shape output_shape() const { return {batch, out_channels, out_h, out_w}; }
};

struct AttentionGeometry {
  int64_t batch, lq, lk, channels, value_channels;
  int64_t heads;
  bool causal;
  Shape output_shape() const { return {batch, lq, value_channels}; }
};

// `values` floats must fill `shape` exactly.
void check_upload(std::string_view backend, const Shape& shape, size_t values);

// The output's shape after the fusion (an image of tokens [N, h·w, C] is [N, C, h, w]); a
// residual must have that shape; a geglu input is twice as wide as the weight's inputs.
Shape linear_shape(std::string_view backend, const Tensor& x, const Tensor& w, const Tensor* b,
                   const Fusion& fusion = {});
// The fusion may hold a residual of the output's shape and a per-channel add [N, Cout].
ConvGeometry conv2d_geometry(std::string_view backend, const Tensor& x, const Tensor& w, const Tensor* b,
                             const Conv2dParams& p, const Fusion& fusion = {});
Shape group_norm_shape(std::string_view backend, const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups);
Shape layer_norm_shape(std::string_view backend, const Tensor& x, const Tensor& gamma, const Tensor& beta);
// b must be non-empty (a is read as rows of b's size).
Shape add_shape(std::string_view backend, const Tensor& a, const Tensor& b);
Shape add_channel_shape(std::string_view backend, const Tensor& x, const Tensor& v);
Shape geglu_shape(std::string_view backend, const Tensor& x);
// Also rejects an output with values but no keys to attend to.
AttentionGeometry attention_geometry(std::string_view backend, const Tensor& q, const Tensor& k, const Tensor& v,
                                     int heads, bool causal);
Shape nchw_to_nlc_shape(std::string_view backend, const Tensor& x);
Shape nlc_to_nchw_shape(std::string_view backend, const Tensor& x, int64_t h, int64_t w);
// Also rejects an output with values from an image without pixels.
Shape upsample_nearest_shape(std::string_view backend, const Tensor& x, int64_t out_h, int64_t out_w);
Shape concat_channels_shape(std::string_view backend, const Tensor& a, const Tensor& b);
// Every id must index a row of the table.
Shape embedding_shape(std::string_view backend, const Tensor& table, std::span<const int> ids);

}  // namespace websd
