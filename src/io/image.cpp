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

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

uint32_t get_u32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

// One chunk: length, type, data, CRC-32 of type and data (stb_image_write's, which it uses for its own).
std::vector<uint8_t> chunk(const char (&type)[5], const std::string& data) {
  std::vector<uint8_t> c;
  put_u32(c, static_cast<uint32_t>(data.size()));
  c.insert(c.end(), type, type + 4);
  c.insert(c.end(), data.begin(), data.end());
  put_u32(c, stbiw__crc32(c.data() + 4, static_cast<int>(data.size() + 4)));
  return c;
}

std::vector<uint8_t> text_chunk(const std::string& keyword, const std::string& text) {
  if (keyword.empty() || keyword.size() > 79 || keyword.find('\0') != std::string::npos)
    throw Error("image: PNG text keyword '" + keyword + "' must be 1 to 79 characters");
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return chunk("tEXt", keyword + '\0' + text);
  // Not compressed, no language tag, no translated keyword.
  return chunk("iTXt", keyword + std::string("\0\0\0\0\0", 5) + text);
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

std::vector<uint8_t> encode_png(const HostTensor& hwc, const PngText& text) {
  std::vector<uint8_t> rgb = to_rgb8(hwc);
  const int h = static_cast<int>(hwc.shape[0]), w = static_cast<int>(hwc.shape[1]);
  std::vector<uint8_t> png;
  if (!stbi_write_png_to_func(append_bytes, &png, w, h, 3, rgb.data(), w * 3))
    throw Error("image: PNG encoding failed");
  // After the signature and IHDR (8 + 25 bytes), where readers look for metadata first.
  std::vector<uint8_t> chunks;
  for (const auto& [keyword, value] : text) {
    const std::vector<uint8_t> c = text_chunk(keyword, value);
    chunks.insert(chunks.end(), c.begin(), c.end());
  }
  png.insert(png.begin() + 33, chunks.begin(), chunks.end());
  return png;
}

PngText read_png_text(const std::vector<uint8_t>& png) {
  if (png.size() < 8 || !std::equal(kSignature, kSignature + 8, png.begin())) throw Error("image: not a PNG file");
  PngText out;
  for (size_t at = 8; at < png.size();) {
    if (png.size() - at < 12 || get_u32(&png[at]) > png.size() - at - 12)
      throw Error("image: a PNG chunk runs past the end of the file");
    const uint32_t length = get_u32(&png[at]);
    const std::string type(png.begin() + static_cast<std::ptrdiff_t>(at + 4), png.begin() + static_cast<std::ptrdiff_t>(at + 8));
    const std::string data(png.begin() + static_cast<std::ptrdiff_t>(at + 8),
                           png.begin() + static_cast<std::ptrdiff_t>(at + 8 + length));
    at += 12 + length;
    const size_t nul = data.find('\0');
    if (type == "tEXt" && nul != std::string::npos) {
      out.emplace_back(data.substr(0, nul), data.substr(nul + 1));
    } else if (type == "iTXt" && nul != std::string::npos && nul + 2 < data.size() && data[nul + 1] == 0) {
      // Skip the compression method, then the language tag and translated keyword (NUL-terminated).
      const size_t language_end = data.find('\0', nul + 3);
      const size_t translated_end = language_end == std::string::npos ? language_end : data.find('\0', language_end + 1);
      if (translated_end == std::string::npos) throw Error("image: a PNG iTXt chunk is truncated");
      out.emplace_back(data.substr(0, nul), data.substr(translated_end + 1));
    }
    if (type == "IEND") break;
  }
  return out;
}

void write_png(const std::string& path, const HostTensor& hwc, const PngText& text) {
  std::vector<uint8_t> png = encode_png(hwc, text);
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
