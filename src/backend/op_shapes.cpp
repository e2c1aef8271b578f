#include "backend/op_shapes.h"

#include <algorithm>

namespace websd {
namespace {

std::string s(const Tensor& t) { return shape_str(t.shape); }
std::string size_str(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

// The fused output ops' tensors against the product's output.
void check_fused_outputs(std::string_view backend, std::string_view op, const Fusion& e, const Shape& output) {
  if (e.residual && e.residual->shape != output)
    throw op_error(backend, op, "residual " + s(*e.residual) + " does not match the output " + shape_str(output));
  if (e.channel_add && (op != "conv2d" || e.channel_add->shape != Shape{output[0], output[1]}))
    throw op_error(backend, op, "a per-channel add " + s(*e.channel_add) + " needs a conv2d's [N, C] (output " +
                                    shape_str(output) + ")");
}

}  // namespace

Error op_error(std::string_view backend, std::string_view op, const std::string& what) {
  return Error(std::string(backend) + " backend: " + std::string(op) + ": " + what);
}

void check_upload(std::string_view backend, const Shape& shape, size_t values) {
  if (static_cast<int64_t>(values) != numel(shape))
    throw op_error(backend, "upload", std::to_string(values) + " values do not fill " + shape_str(shape));
}

Shape linear_shape(std::string_view backend, const Tensor& x, const Tensor& w, const Tensor* b, const Fusion& e) {
  if (x.shape.empty() || w.shape.size() != 2 || w.dim(1) * (e.geglu ? 2 : 1) != x.shape.back())
    throw op_error(backend, "linear",
                   "weight " + s(w) + " does not match input " + s(x) + (e.geglu ? " read through geglu" : ""));
  if (b && b->shape != Shape{w.dim(0)})
    throw op_error(backend, "linear", "bias " + s(*b) + " does not match weight " + s(w));
  Shape os = x.shape;
  os.back() = w.dim(0);
  if (e.image()) {
    if (x.shape.size() != 3 || e.image_h < 1 || e.image_w < 1 || x.dim(1) != e.image_h * e.image_w)
      throw op_error(backend, "linear", "input " + s(x) + " is not the tokens of a " + size_str(e.image_h, e.image_w) +
                                            " image [N, h·w, C] for an image output");
    os = {x.dim(0), w.dim(0), e.image_h, e.image_w};
  }
  check_fused_outputs(backend, "linear", e, os);
  return os;
}

ConvGeometry conv2d_geometry(std::string_view backend, const Tensor& x, const Tensor& w, const Tensor* b,
                             const Conv2dParams& p, const Fusion& e) {
  if (e.image()) throw op_error(backend, "conv2d", "an image output is for linear layers; conv2d's output is one already");
  if (e.geglu) throw op_error(backend, "conv2d", "a geglu input is for linear layers");
  if (x.shape.size() != 4 || w.shape.size() != 4 || w.dim(1) != x.dim(1))
    throw op_error(backend, "conv2d", "weight " + s(w) + " does not match input " + s(x));
  if (b && b->numel() != w.dim(0))
    throw op_error(backend, "conv2d", "bias " + s(*b) + " does not match weight " + s(w));
  if (p.stride < 1 || std::min({p.pad_top, p.pad_bottom, p.pad_left, p.pad_right}) < 0)
    throw op_error(backend, "conv2d",
                   "stride " + std::to_string(p.stride) + " must be positive and padding non-negative");
  const int64_t H = x.dim(2) + p.pad_top + p.pad_bottom, W = x.dim(3) + p.pad_left + p.pad_right;
  if (H < w.dim(2) || W < w.dim(3))
    throw op_error(backend, "conv2d", "weight " + s(w) + " is larger than the padded input " + s(x));
  const ConvGeometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3),
                       (H - w.dim(2)) / p.stride + 1, (W - w.dim(3)) / p.stride + 1, p};
  check_fused_outputs(backend, "conv2d", e, g.output_shape());
  return g;
}

Shape group_norm_shape(std::string_view backend, const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups) {
  if (x.shape.size() < 2) throw op_error(backend, "group_norm", "input " + s(x) + " has no channel dimension");
  const int64_t C = x.dim(1);
  if (groups < 1 || C % groups != 0)
    throw op_error(backend, "group_norm",
                   "the " + std::to_string(C) + " channels of " + s(x) + " do not split into " +
                       std::to_string(groups) + " groups");
  if (gamma.numel() != C || beta.numel() != C)
    throw op_error(backend, "group_norm",
                   "gamma " + s(gamma) + " and beta " + s(beta) + " do not match the channels of " + s(x));
  return x.shape;
}

Shape layer_norm_shape(std::string_view backend, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  if (x.shape.empty() || gamma.numel() != x.shape.back() || beta.numel() != x.shape.back())
    throw op_error(backend, "layer_norm",
                   "gamma " + s(gamma) + " and beta " + s(beta) + " do not match the last dimension of " + s(x));
  return x.shape;
}

Shape add_shape(std::string_view backend, const Tensor& a, const Tensor& b) {
  const bool trailing =
      b.shape.size() <= a.shape.size() && std::equal(b.shape.rbegin(), b.shape.rend(), a.shape.rbegin());
  if (!trailing || b.numel() == 0)
    throw op_error(backend, "add",
                   s(b) + " does not broadcast to " + s(a) +
                       " (b must be non-empty and equal a's trailing dimensions)");
  return a.shape;
}

Shape add_channel_shape(std::string_view backend, const Tensor& x, const Tensor& v) {
  if (x.shape.size() < 2 || v.numel() != x.dim(0) * x.dim(1))
    throw op_error(backend, "add_channel", s(v) + " does not match the batch and channels of " + s(x));
  return x.shape;
}

Shape geglu_shape(std::string_view backend, const Tensor& x) {
  if (x.shape.empty() || x.shape.back() % 2 != 0)
    throw op_error(backend, "geglu", "the last dimension of " + s(x) + " is odd");
  Shape os = x.shape;
  os.back() /= 2;
  return os;
}

AttentionGeometry attention_geometry(std::string_view backend, const Tensor& q, const Tensor& k, const Tensor& v,
                                     int heads, bool causal) {
  if (heads < 1) throw op_error(backend, "attention", std::to_string(heads) + " heads");
  const bool fits = q.shape.size() == 3 && k.shape.size() == 3 && v.shape.size() == 3 && k.dim(0) == q.dim(0) &&
                    v.dim(0) == q.dim(0) && k.dim(2) == q.dim(2) && v.dim(1) == k.dim(1) && q.dim(2) % heads == 0 &&
                    v.dim(2) % heads == 0;
  if (!fits)
    throw op_error(backend, "attention",
                   "q " + s(q) + ", k " + s(k) + " and v " + s(v) + " do not fit " + std::to_string(heads) +
                       " heads (batches must agree, q and k have one width and k and v one length, widths split into "
                       "the heads)");
  const AttentionGeometry g{q.dim(0), q.dim(1), k.dim(1), q.dim(2), v.dim(2), heads, causal};
  if (g.lk == 0 && numel(g.output_shape()) > 0)
    throw op_error(backend, "attention", "k " + s(k) + " has no keys to attend to");
  return g;
}

Shape nchw_to_nlc_shape(std::string_view backend, const Tensor& x) {
  if (x.shape.size() != 4) throw op_error(backend, "nchw_to_nlc", "expects [N, C, H, W], got " + s(x));
  return {x.dim(0), x.dim(2) * x.dim(3), x.dim(1)};
}

Shape nlc_to_nchw_shape(std::string_view backend, const Tensor& x, int64_t h, int64_t w) {
  if (x.shape.size() != 3 || h < 0 || w < 0 || x.dim(1) != h * w)
    throw op_error(backend, "nlc_to_nchw", s(x) + " is not a sequence of " + size_str(h, w) + " pixels");
  return {x.dim(0), x.dim(2), h, w};
}

Shape upsample_nearest_shape(std::string_view backend, const Tensor& x, int64_t out_h, int64_t out_w) {
  if (x.shape.size() != 4 || out_h < 1 || out_w < 1)
    throw op_error(backend, "upsample_nearest", "cannot resize " + s(x) + " to " + size_str(out_h, out_w));
  Shape os{x.dim(0), x.dim(1), out_h, out_w};
  if ((x.dim(2) < 1 || x.dim(3) < 1) && numel(os) > 0)
    throw op_error(backend, "upsample_nearest", "cannot resize the empty image " + s(x));
  return os;
}

Shape concat_channels_shape(std::string_view backend, const Tensor& a, const Tensor& b) {
  const bool fits = a.shape.size() >= 2 && a.shape.size() == b.shape.size() && a.dim(0) == b.dim(0) &&
                    std::equal(a.shape.begin() + 2, a.shape.end(), b.shape.begin() + 2);
  if (!fits)
    throw op_error(backend, "concat_channels", s(a) + " and " + s(b) + " differ outside the channel dimension");
  Shape os = a.shape;
  os[1] += b.dim(1);
  return os;
}

Shape embedding_shape(std::string_view backend, const Tensor& table, std::span<const int> ids) {
  if (table.shape.size() != 2)
    throw op_error(backend, "embedding", "table " + s(table) + " is not [vocabulary, channels]");
  const int64_t V = table.dim(0);
  for (int id : ids)
    if (id < 0 || id >= V)
      throw op_error(backend, "embedding",
                     "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(V));
  return {static_cast<int64_t>(ids.size()), table.dim(1)};
}

}  // namespace websd
