#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/conv2d.h"
#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/matmul.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Linear and conv2d on the tensor cores (WGSL subgroup matrices, float16 × float16 → float32), for
// adapters with shader-f16 and chromium-experimental-subgroup-matrix in 16×16×16 and subgroups of one width.
// One or two dispatches per product:
//   pack (unstaged kernels, and a linear's GEGLU input: tensor_core_packs): gathers the activation
//         operand into a float16 matrix [rows, K] (x's rows for linear, or geglu of them; the
//         im2col rows of a range of output pixels for conv2d), rounding float32 to float16 (values
//         past ±65504 saturate) and writing zero past the edges, so every tile it feeds is whole;
//   gemm: C [i, j] = Σ_k L[i·K + k] · R[j·K + k] with both operands float16 rows of K, accumulated in
//         float32; each subgroup computes TI×TJ tiles of 16×16 and writes them one at a time
//         through 1 KiB of workgroup memory, adding the bias and the fused output ops
//         (product_io.h). Staged (the default where workgroup memory allows): WI×WJ subgroups per workgroup share the workgroup's rows of L and R,
//         copied `chunk` steps of 16 at a time into workgroup memory (each operand value read from
//         storage once per workgroup instead of once per subgroup), the next chunk's copy in
//         registers while the subgroups multiply the current one; without a pack, the activation
//         operand's copy gathers and rounds x itself as the pack would (implicit GEMM: no packed
//         matrix, one dispatch and a round trip through memory fewer; a conv's copy works out
//         each of its pixels' windows once and walks channel and tap over eight values, where
//         dividing for every value made the gather the bottleneck). Otherwise one subgroup per
//         workgroup loads its tiles straight from storage, the packed matrix's and the weight's.
// Split over K: a product with too few tiles to fill the GPU (deep convs on small latents, batch-1
// products) runs `splits` workgroups per tile, each over a slice of K, storing its float32 partial
// sums straight into a scratch buffer [splits, C rows, C columns]; a third dispatch (reduce) adds
// the slices, the bias and the fused output ops and writes y.
// Linear: L = pack(x rows [p0, p0 + rows)) [rows, K], R = w [N, K], C = those rows of y [M, N].
// Conv2d: L = w [Cout, Cin·kh·kw], R = pack(x) for output pixels [p0, p0 + rows), C = y's channels ×
// those pixels. The three kernels read the product's sizes from one uniform (tensor_core_dims, the
// binding after the tensors): their pipelines serve every product of the same layout, and a
// product whose packed matrix would be too big for one binding runs over ranges (field P0).
enum class GemmKind { Linear, Conv };

struct TensorCoreGemmSpec {
  GemmKind kind = GemmKind::Linear;
  // Linear: m rows of x, n outputs, k inputs. Conv: as Conv2dSpec; k = in_channels·kernel_h·kernel_w.
  uint32_t m = 0, n = 0, k = 0;
  bool geglu = false;  // linear: x is [M, 2K], packed as geglu(x) (product_io.h)
  uint32_t batch = 0, in_channels = 0, in_h = 0, in_w = 0, out_channels = 0, kernel_h = 0, kernel_w = 0;
  uint32_t out_h = 0, out_w = 0, stride = 1, pad_top = 0, pad_left = 0;
  uint32_t pack_rows = 0;  // rows of the packed matrix (a multiple of 64): one range of x's rows or of the pixels
  uint32_t splits = 1;     // slices of K (tensor_core_splits); above 1 the gemm writes partial sums
  uint32_t groups_x = 1;  // workgroups per row of the dispatch grid (the kernel being generated)
  uint32_t subgroup = 32;  // the device's subgroup width
  // Subgroups per workgroup along C's rows (wi) and columns (wj), and steps of 16 staged in
  // workgroup memory at a time (0: no staging, one subgroup per workgroup); tensor_core_stage.
  uint32_t wi = 1, wj = 1, chunk = 0;
  TensorView x;           // the packed matrix and the weight are single float16 bindings
  ProductOutput out;      // bias, fused output ops and y (product_io.h), written by the gemm or the reduce
};

constexpr uint32_t kTensorCorePackRows = 64;  // the packed matrix's rows come in multiples of this
// Split over K until a product has this many subgroups: the 4096³ probe of
// ../shared/device/README.md reached 75 TFLOP/s with 4096 of them, products of a few hundred reach
// a tenth of that; a slice is at least this many steps of 16.
constexpr uint32_t kTensorCoreTargetGroups = 2048;
constexpr uint32_t kTensorCoreMinSplitSteps = 8;
// A staged workgroup's invocations stay within what every WebGPU device allows.
constexpr uint32_t kTensorCoreMaxInvocations = 256;

// The same product as the float32 kernel's spec describes (its views and grid aside).
TensorCoreGemmSpec tensor_core_spec(const MatmulSpec& linear);
TensorCoreGemmSpec tensor_core_spec(const Conv2dSpec& conv);

// Whether the product fits these kernels: K and the weight's rows whole 16s (anything else runs the
// float32 kernels).
bool tensor_core_gemm_fits(uint32_t k, uint32_t weight_rows);
// Tiles of 16 per workgroup along C's rows (TI) and columns (TJ).
uint32_t tensor_core_ti(const TensorCoreGemmSpec& spec);
uint32_t tensor_core_tj(const TensorCoreGemmSpec& spec);
// Picks the staged layout (wi, wj, chunk) for a spec whose pack_rows and subgroup are set: four
// subgroups (2×2, else 1×4 or 4×1 where C's tiles pair up along one side only, as SD 1.5's 320
// channels), else two, with the longest chunk whose workgroup memory fits `workgroup_bytes`; or
// none (no staging).
void tensor_core_stage(TensorCoreGemmSpec& spec, uint32_t workgroup_bytes);
// Workgroup memory the gemm kernel declares.
uint32_t tensor_core_gemm_workgroup_bytes(const TensorCoreGemmSpec& spec);
// Rows the ranges cover in all: M for linear, batch · out_h · out_w pixels for conv2d.
uint32_t tensor_core_rows(const TensorCoreGemmSpec& spec);

// Slices of K for a spec whose pack_rows is set: enough workgroups for kTensorCoreTargetGroups,
// slices of at least kTensorCoreMinSplitSteps steps, and a scratch of at most scratch_limit bytes.
uint32_t tensor_core_splits(const TensorCoreGemmSpec& spec, uint64_t scratch_limit);
// Float32 values of the split scratch: splits × C's rows × C's columns.
uint64_t tensor_core_partial_values(const TensorCoreGemmSpec& spec);

// Whether the product needs the pack dispatch and its packed matrix: the unstaged kernels, and
// linear layers reading GEGLU, whose erf the pack computes once per value where every workgroup
// column of the gemm would compute it again (2.3× slower measured on the H100).
bool tensor_core_packs(const TensorCoreGemmSpec& spec);

// Workgroups of each dispatch, and their sources and pipeline keys.
uint32_t tensor_core_pack_groups(const TensorCoreGemmSpec& spec);
uint32_t tensor_core_gemm_groups(const TensorCoreGemmSpec& spec);
uint32_t tensor_core_reduce_groups(const TensorCoreGemmSpec& spec);
// The uniform of all three kernels, for the range starting at row or pixel 0 (set P0 for others).
Dims tensor_core_dims(const TensorCoreGemmSpec& spec);
std::string tensor_core_pack_source(const TensorCoreGemmSpec& spec);
std::string tensor_core_gemm_source(const TensorCoreGemmSpec& spec);
std::string tensor_core_reduce_source(const TensorCoreGemmSpec& spec);
std::string tensor_core_pack_key(const TensorCoreGemmSpec& spec);
std::string tensor_core_gemm_key(const TensorCoreGemmSpec& spec);
std::string tensor_core_reduce_key(const TensorCoreGemmSpec& spec);

}  // namespace websd::wgsl
