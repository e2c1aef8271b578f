#include "pipeline/latent_preview.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "core/error.h"

namespace websd {
namespace {

// Solves a·x = b for the k columns of b at once (a: n × n, b: n × k, both row-major) by Gaussian
// elimination with partial pivoting; returns x (n × k), or nothing where a is singular.
std::optional<std::vector<double>> solve(std::vector<double> a, std::vector<double> b, size_t n, size_t k) {
  for (size_t col = 0; col < n; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    if (std::abs(a[pivot * n + col]) < 1e-12) return std::nullopt;
    for (size_t j = 0; j < n; ++j) std::swap(a[col * n + j], a[pivot * n + j]);
    for (size_t j = 0; j < k; ++j) std::swap(b[col * k + j], b[pivot * k + j]);
    for (size_t r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / a[col * n + col];
      for (size_t j = col; j < n; ++j) a[r * n + j] -= f * a[col * n + j];
      for (size_t j = 0; j < k; ++j) b[r * k + j] -= f * b[col * k + j];
    }
  }
  std::vector<double> x(n * k);
  for (size_t r = n; r-- > 0;)
    for (size_t j = 0; j < k; ++j) {
      double v = b[r * k + j];
      for (size_t i = r + 1; i < n; ++i) v -= a[r * n + i] * x[i * k + j];
      x[r * k + j] = v / a[r * n + r];
    }
  return x;
}

}  // namespace

std::optional<LatentPreview> fit_latent_preview(const HostTensor& latents, const HostTensor& picture) {
  const Shape& l = latents.shape;
  const int64_t factor = l.size() == 4 && l[2] > 0 && picture.shape.size() == 3 ? picture.shape[0] / l[2] : 0;
  if (l.size() != 4 || l[0] < 1 || factor < 1 || picture.shape != Shape{l[2] * factor, l[3] * factor, 3})
    throw Error("latent preview: a picture " + shape_str(picture.shape) + " is not the decode of latents " + shape_str(l));
  const int64_t channels = l[1], height = l[2], width = l[3];
  // Normal equations of [channels..., 1] → each colour's block mean.
  const size_t n = static_cast<size_t>(channels) + 1, pixels = static_cast<size_t>(height * width);
  std::vector<double> gram(n * n, 0.0), rhs(n * 3, 0.0);  // rhs: n × 3, a column per colour
  std::vector<double> row(n);
  for (size_t p = 0; p < pixels; ++p) {
    for (size_t c = 0; c < n - 1; ++c) row[c] = latents.data[c * pixels + p];
    row[n - 1] = 1.0;
    const int64_t y0 = static_cast<int64_t>(p) / width * factor, x0 = static_cast<int64_t>(p) % width * factor;
    double colour[3] = {0, 0, 0};
    for (int64_t y = y0; y < y0 + factor; ++y)
      for (int64_t x = x0; x < x0 + factor; ++x)
        for (int c = 0; c < 3; ++c) colour[c] += picture.data[static_cast<size_t>((y * width * factor + x) * 3 + c)];
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) gram[i * n + j] += row[i] * row[j];
      for (int c = 0; c < 3; ++c) rhs[i * 3 + static_cast<size_t>(c)] += row[i] * colour[c] / static_cast<double>(factor * factor);
    }
  }
  const std::optional<std::vector<double>> x = solve(std::move(gram), std::move(rhs), n, 3);
  if (!x) return std::nullopt;
  LatentPreview preview{channels, {}};
  for (size_t c = 0; c < 3; ++c)
    for (size_t i = 0; i < n; ++i) preview.map.push_back(static_cast<float>((*x)[i * 3 + c]));
  return preview;
}

HostTensor latent_preview_image(const LatentPreview& preview, const HostTensor& latents) {
  if (latents.shape.size() != 4 || latents.shape[1] != preview.channels)
    throw Error("latent preview: latents " + shape_str(latents.shape) + " do not have the VAE's " +
                std::to_string(preview.channels) + " channels");
  const int64_t h = latents.shape[2], w = latents.shape[3], n = preview.channels + 1;
  HostTensor image({h, w, 3});
  for (int64_t p = 0; p < h * w; ++p)
    for (int64_t c = 0; c < 3; ++c) {
      float v = preview.map[static_cast<size_t>(c * n + n - 1)];
      for (int64_t k = 0; k < preview.channels; ++k)
        v += preview.map[static_cast<size_t>(c * n + k)] * latents.data[static_cast<size_t>(k * h * w + p)];
      image.data[static_cast<size_t>(p * 3 + c)] = std::clamp(v, 0.0f, 1.0f);
    }
  return image;
}

}  // namespace websd
