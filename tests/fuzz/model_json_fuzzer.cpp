// An artifact model's model.json (the one file a loader cannot verify): parse() refuses it with a
// websd::Error, or accepts it and then accepts what its own writer makes of it.
#include <optional>

#include "artifacts/model_json.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<websd::ModelJson> model;
  try {
    model = websd::ModelJson::parse(websd::fuzz::text(data, size), "fuzz/model.json");
  } catch (const websd::Error&) {
    return 0;
  }
  model->file(model->tensor_cache);
  // Outside expect_clean: refusing a model.json it wrote itself is a finding too.
  websd::ModelJson::parse(model->to_json().dump(), "fuzz/model.json (written back)");
  return 0;
}
