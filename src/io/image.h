#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace websd {

// Pictures as H×W×3 float tensors in [0, 1] (diffusers' output_type="np"); 8-bit conversion
// rounds like diffusers' numpy_to_pil: round(v · 255).
std::vector<uint8_t> to_rgb8(const HostTensor& hwc);
void write_png(const std::string& path, const HostTensor& hwc);
std::vector<uint8_t> encode_png(const HostTensor& hwc);
HostTensor read_png(const std::string& path);  // any 8-bit PNG, converted to RGB

}  // namespace websd
