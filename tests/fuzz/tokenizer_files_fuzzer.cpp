// A tokenizer folder's files, any bytes: the input cut at NUL bytes gives vocab.json, merges.txt,
// tokenizer_config.json, special_tokens_map.json, added_tokens.json and tokenizer.json in that
// order (an empty or missing part: no such file). Read as read_vocab_and_merges (from_files) and as
// a folder (from_folder); a tokenizer that loads must then encode a prompt.
#include <array>

#include "fuzz_support.h"
#include "tokenizer/clip_tokenizer.h"

namespace {

constexpr std::array<const char*, 6> kFiles = {"vocab.json",              "merges.txt",        "tokenizer_config.json",
                                               "special_tokens_map.json", "added_tokens.json", "tokenizer.json"};

void encode(const websd::ClipTokenizer& tokenizer) { tokenizer.encode("a photo of an astronaut riding a horse, 4k!"); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = websd::fuzz::temp_path("tokenizer");
  std::filesystem::create_directories(dir);
  const std::string input = websd::fuzz::text(data, size);
  const std::vector<std::string_view> parts = websd::fuzz::split_at_nul(input);
  for (size_t i = 0; i < kFiles.size(); ++i) {
    const std::filesystem::path path = dir / kFiles[i];
    if (i < parts.size() && !parts[i].empty()) {
      websd::fuzz::write_file(path, parts[i]);
    } else {
      std::filesystem::remove(path);
    }
  }
  websd::fuzz::expect_clean([&] {
    encode(websd::ClipTokenizer::from_files((dir / kFiles[0]).string(), (dir / kFiles[1]).string()));
  });
  websd::fuzz::expect_clean([&] { encode(websd::ClipTokenizer::from_folder(dir.string())); });
  return 0;
}
