#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace websd {

// Pictures as H×W×3 float tensors in [0, 1] (diffusers' output_type="np"); 8-bit conversion
// rounds like diffusers' numpy_to_pil: round(v · 255).
std::vector<uint8_t> to_rgb8(const HostTensor& hwc);

// Text chunks (keyword → text), as PIL's PngInfo.add_text writes them: tEXt for Latin-1 text
// (here: ASCII), iTXt (UTF-8, uncompressed) otherwise; AUTOMATIC1111 keeps a picture's settings
// under "parameters".
using PngText = std::vector<std::pair<std::string, std::string>>;
void write_png(const std::string& path, const HostTensor& hwc, const PngText& text = {});
std::vector<uint8_t> encode_png(const HostTensor& hwc, const PngText& text = {});
HostTensor read_png(const std::string& path);  // any 8-bit PNG, converted to RGB
// A PNG's uncompressed tEXt and iTXt chunks, in file order; throws naming what is malformed.
PngText read_png_text(const std::vector<uint8_t>& png);

}  // namespace websd
