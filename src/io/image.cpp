#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#include <stb_image.h>
#include <stb_image_write.h>

namespace websd {
namespace {

void check_hwc(const HostTensor& hwc) {
  if (hwc.shape.size() != 3 || hwc.shape[2] != 3)
    throw Error("image: expected an H×W×3 tensor, got " + shape_str(hwc.shape));
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

std::vector<uint8_t> to_rgb8(const HostTensor& hwc) {
  check_hwc(hwc);
  std::vector<uint8_t> rgb(hwc.data.size());
  for (size_t i = 0; i < rgb.size(); ++i) {
    const float v = std::clamp(hwc.data[i], 0.0f, 1.0f);
    rgb[i] = static_cast<uint8_t>(std::nearbyint(v * 255.0f));
  }
  return rgb;
}

std::vector<uint8_t> encode_png(const HostTensor& hwc) {
  std::vector<uint8_t> rgb = to_rgb8(hwc);
  const int h = static_cast<int>(hwc.shape[0]), w = static_cast<int>(hwc.shape[1]);
  std::vector<uint8_t> png;
  if (!stbi_write_png_to_func(append_bytes, &png, w, h, 3, rgb.data(), w * 3))
    throw Error("image: PNG encoding failed");
  return png;
}

void write_png(const std::string& path, const HostTensor& hwc) {
  std::vector<uint8_t> png = encode_png(hwc);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  if (!out) throw Error(path + ": cannot write the PNG (does the folder exist?)");
}

HostTensor read_png(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  stbi_uc* pixels = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!pixels) throw Error(path + ": cannot read as a PNG image (" + stbi_failure_reason() + ")");
  HostTensor t({h, w, 3});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<float>(pixels[i]) / 255.0f;
  stbi_image_free(pixels);
  return t;
}

}  // namespace websd
