// A prompt of any bytes (invalid UTF-8 included) through the CLIP tokenizers of both layouts the
// fixtures hold: SD 1.5's vocab.json + merges.txt, and SDXL's second tokenizer (tokenizer.json,
// padding with "!"). Besides no crash: always exactly max_length ids, each one in the vocabulary.
#include <vector>

#include "fuzz_support.h"
#include "tokenizer/clip_tokenizer.h"

namespace {

const std::vector<websd::ClipTokenizer>& tokenizers() {
  static const std::vector<websd::ClipTokenizer> loaded = [] {
    std::vector<websd::ClipTokenizer> t;
    try {
      t.push_back(websd::ClipTokenizer::from_folder(WEBSD_FIXTURES_DIR "/tiny-sd15/model/tokenizer"));
      t.push_back(websd::ClipTokenizer::from_folder(WEBSD_FIXTURES_DIR "/tiny-sdxl/model/tokenizer_2"));
      t.back().set_pad_token("!");
    } catch (const websd::Error& e) {
      websd::fuzz::harness_failure(e.what());
    }
    return t;
  }();
  return loaded;
}

// The largest id of CLIP's vocabulary (49408 tokens), which both fixtures use.
constexpr int kMaxId = 49407;

}  // namespace

// SDXL's tokenizer.json takes seconds to load under the sanitizers: loaded before the first input,
// so that libFuzzer's per-input timeout does not count it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string prompt = websd::fuzz::text(data, size);
  for (const websd::ClipTokenizer& tokenizer : tokenizers()) {
    const std::vector<int> ids = tokenizer.encode(prompt);
    websd::fuzz::check(ids.size() == static_cast<size_t>(tokenizer.max_length()), "encode() gave another count than max_length");
    for (int id : ids) websd::fuzz::check(id >= 0 && id <= kMaxId, "encode() gave an id outside the vocabulary");
    const std::vector<int> untruncated = tokenizer.encode_untruncated(prompt);
    websd::fuzz::check(untruncated.size() >= 2 && untruncated.front() == tokenizer.bos_id() &&
                           untruncated.back() == tokenizer.eos_id(),
                       "encode_untruncated() is not BOS ... EOS");
  }
  return 0;
}
