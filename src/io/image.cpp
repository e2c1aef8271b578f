#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
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

// Calls visit(type, data, length) for each chunk in file order, up to IEND; `where` names the file
// in the errors for a missing signature and a chunk that runs past the end.
template <class Visit>
void for_each_chunk(const std::vector<uint8_t>& png, const std::string& where, Visit&& visit) {
  if (png.size() < 8 || !std::equal(kSignature, kSignature + 8, png.begin())) throw Error(where + ": not a PNG file");
  for (size_t at = 8; at < png.size();) {
    if (png.size() - at < 12 || get_u32(&png[at]) > png.size() - at - 12)
      throw Error(where + ": a PNG chunk runs past the end of the file");
    const uint32_t length = get_u32(&png[at]);
    const std::string type(png.begin() + static_cast<std::ptrdiff_t>(at + 4), png.begin() + static_cast<std::ptrdiff_t>(at + 8));
    visit(type, &png[at + 8], length);
    at += 12 + length;
    if (type == "IEND") break;
  }
}

// Deflate makes at most 1032 bytes of one (the longest match, 258 bytes, in 2 bits).
constexpr double kMaxDeflateRatio = 1032;

// stb_image allocates what a PNG declares before it reads the data: a chunk's length, and the
// inflated size of width × height pixels. A few bytes of file could so ask for gigabytes; a PNG
// whose chunks leave the file, or whose pixels its image data cannot inflate to, is refused first.
void check_declared_sizes(const std::vector<uint8_t>& png, const std::string& path) {
  double raw_bytes = 0, compressed_bytes = 0;
  for_each_chunk(png, path, [&](const std::string& type, const uint8_t* data, uint32_t length) {
    if (type == "IHDR" && length >= 13) {
      const int channels_by_color_type[7] = {1, 0, 3, 1, 2, 0, 4};
      const int depth = data[8], color_type = data[9];
      const int channels = color_type < 7 ? channels_by_color_type[color_type] : 0;
      // Rows of a filter byte and the pixels' bytes; an interlaced image inflates to more.
      const double width = get_u32(data), height = get_u32(data + 4);
      raw_bytes = height * (1 + std::ceil(width * channels * depth / 8));
    }
    if (type == "IDAT") compressed_bytes += length;
  });
  if (raw_bytes > kMaxDeflateRatio * compressed_bytes)
    throw Error(path + ": the PNG declares more pixels than its " + std::to_string(static_cast<uint64_t>(compressed_bytes)) +
                " bytes of image data can hold (a corrupt or hostile file)");
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
  PngText out;
  for_each_chunk(png, "image", [&](const std::string& type, const uint8_t* bytes, uint32_t length) {
    const std::string data(bytes, bytes + length);
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
  });
  return out;
}

void write_png(const std::string& path, const HostTensor& hwc, const PngText& text) {
  std::vector<uint8_t> png = encode_png(hwc, text);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  if (!out) throw Error(path + ": cannot write the PNG (does the folder exist?)");
}

HostTensor read_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path + ": cannot open the PNG (does the file exist?)");
  // Refused by its size, before anything is read: stb_image takes an int length.
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(path + ": cannot read the PNG's size");
  if (size > INT32_MAX) throw Error(path + ": a PNG of 2 GiB or more is not read");
  std::vector<uint8_t> png(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(png.data()), size)) throw Error(path + ": cannot read the PNG");
  check_declared_sizes(png, path);
  int w = 0, h = 0, channels = 0;
  stbi_uc* pixels = stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &channels, 3);
  if (!pixels) throw Error(path + ": cannot read as a PNG image (" + stbi_failure_reason() + ")");
  HostTensor t({h, w, 3});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<float>(pixels[i]) / 255.0f;
  stbi_image_free(pixels);
  return t;
}

}  // namespace websd
