#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace websd::tokenizer {

using Vocabulary = std::unordered_map<std::string, int>;
using MergeList = std::vector<std::pair<std::string, std::string>>;

// Byte-level BPE with CLIP's end-of-word marker, merging exactly as the tokenizers library does:
// the pair of lowest rank goes first, the leftmost of equal ranks, one merge at a time.
// Thread-safe; words already seen come from a cache.
class Bpe {
 public:
  // Fails (websd::Error naming `source`) if a merge or its result is not in the vocabulary, as
  // tokenizers does; a later duplicate of a merge takes its rank, as there.
  Bpe(const Vocabulary& vocab, const MergeList& merges, const std::string& unk_token, const std::string& source);

  // Appends the ids of one pre-tokenized word (raw UTF-8 bytes).
  void encode_word(const std::string& word, std::vector<int>& ids) const;

 private:
  struct Merge {
    uint32_t rank;
    int merged_id;
  };
  std::vector<int> merge_word(std::string_view word) const;
  const Merge* find_merge(int left, int right) const;

  std::unordered_map<uint64_t, Merge> merges_;
  // Id of each byte's symbol inside a word and at its end (with "</w>"); unknown symbols take the
  // unk id, as tokenizers does.
  std::array<int, 256> byte_ids_{};
  std::array<int, 256> final_byte_ids_{};

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int>> cache_;
};

}  // namespace websd::tokenizer
