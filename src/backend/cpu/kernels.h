#pragma once
// The CPU backend's kernels on raw float32 arrays. CpuBackend checks shapes (op_shapes.h) and
// allocates; these assume valid arguments, write every output element, and spread work over the
// thread pool.
#include <cstdint>

#include "backend/backend.h"
#include "backend/op_shapes.h"

namespace websd::cpu {

// x [batch, in_channels, in_h, in_w], w [out_channels, in_channels, kernel_h, kernel_w], bias or null.
void conv2d(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y);

// q [batch, lq, channels], k [batch, lk, channels], v [batch, lk, value_channels] → y [batch, lq, value_channels].
void attention(const AttentionGeometry& g, const float* q, const float* k, const float* v, float* y);

// x [n, channels, spatial]; each group of channels/groups channels is normalised as one.
void group_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t channels,
                int64_t spatial, int64_t groups, float eps, bool silu);
// x [rows, dim], normalised along dim.
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t dim, float eps);

void unary(UnaryOp op, const float* x, float* y, int64_t n);
// y[r, j] = a[r, j] + b[j] for `rows` rows of length `cols`.
void add_rows(const float* a, const float* b, float* y, int64_t rows, int64_t cols);
// y[r, j] = x[r, j] + v[r].
void add_per_row(const float* x, const float* v, float* y, int64_t rows, int64_t cols);
void scale(const float* x, float s, float* y, int64_t n);
// x [rows, 2·dim] → y [rows, dim] = first half · gelu(second half).
void geglu(const float* x, float* y, int64_t rows, int64_t dim);

// x [batch, rows, cols] → y [batch, cols, rows].
void transpose(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols);
// x [planes, in_h, in_w] → y [planes, out_h, out_w] with torch's 'nearest' source pixels.
void upsample_nearest(const float* x, float* y, int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                      int64_t out_w);

}  // namespace websd::cpu
