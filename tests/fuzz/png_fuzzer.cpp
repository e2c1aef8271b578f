// A PNG of any bytes (an img2img picture, a picture whose settings are read back): its pixels
// through read_png (stb_image, from a file) and its text chunks through read_png_text.
#include <vector>

#include "fuzz_support.h"
#include "io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path file = websd::fuzz::temp_path("input.png");
  websd::fuzz::write_file(file, websd::fuzz::text(data, size));
  websd::fuzz::expect_clean([&] { websd::read_png(file.string()); });
  websd::fuzz::expect_clean([&] { websd::read_png_text(std::vector<uint8_t>(data, data + size)); });
  return 0;
}
