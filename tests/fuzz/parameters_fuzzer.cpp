// A picture's "parameters" text (AUTOMATIC1111's settings, read from PNGs any tool wrote):
// parse_parameters() refuses it with a websd::Error or returns settings that format_parameters()
// can write again (the page shows and re-uses them).
#include <optional>

#include "fuzz_support.h"
#include "pipeline/generation_parameters.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<websd::GenerationParameters> p;
  try {
    p = websd::parse_parameters(websd::fuzz::text(data, size));
  } catch (const websd::Error&) {
    return 0;
  }
  websd::fuzz::expect_clean([&] { websd::format_parameters(*p); });
  return 0;
}
