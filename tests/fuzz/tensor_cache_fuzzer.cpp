// An artifact model's ndarray-cache.json (the weights manifest, fetched from any server): parse()
// refuses it with a websd::Error, or accepts it and then accepts what its own writer makes of it,
// as a loader reads what `websd convert` wrote.
#include <optional>

#include "artifacts/tensor_cache.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<websd::TensorCache> cache;
  try {
    cache = websd::TensorCache::parse(websd::fuzz::text(data, size), "fuzz/ndarray-cache.json");
  } catch (const websd::Error&) {
    return 0;
  }
  cache->total_bytes();
  cache->total_params();
  // Outside expect_clean: refusing a manifest it wrote itself is a finding too.
  websd::TensorCache::parse(cache->to_json().dump(), "fuzz/ndarray-cache.json (written back)");
  return 0;
}
