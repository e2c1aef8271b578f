// A .safetensors file of any bytes (weights come from anywhere): the header's checks, then every
// tensor read back in each way the loaders read them. An accepted header must describe what it
// promises: non-negative dimensions whose product is the tensor's byte count.
#include "fuzz_support.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path file = websd::fuzz::temp_path("input.safetensors");
  websd::fuzz::write_file(file, websd::fuzz::text(data, size));
  websd::fuzz::expect_clean([&] {
    websd::SafetensorsFile st(file.string());
    for (const auto& [name, info] : st.tensors()) {
      uint64_t count = 1;
      for (int64_t d : info.shape) {
        websd::fuzz::check(d >= 0, "a negative dimension");
        count *= static_cast<uint64_t>(d);
      }
      const uint64_t bytes = info.end - info.begin, element = websd::st_dtype_size(info.dtype);
      websd::fuzz::check(bytes % element == 0 && bytes / element == count, "bytes that do not match the shape");
      st.read_raw(name);
      st.read(name);
      st.read_f64(name);
    }
  });
  return 0;
}
