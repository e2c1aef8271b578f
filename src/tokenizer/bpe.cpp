#include "tokenizer/bpe.h"

#include <queue>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace websd::tokenizer {

namespace {

constexpr const char* kEndOfWord = "</w>";
// Bounds memory on endless streams of distinct words; like tokenizers' cache, a full cache simply
// stops taking new words.
constexpr size_t kCacheCapacity = 10000;

uint64_t pair_key(int left, int right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

int lookup(const Vocabulary& vocab, const std::string& token, const std::string& source, const char* what) {
  auto it = vocab.find(token);
  if (it == vocab.end())
    throw Error(source + ": " + what + " '" + token + "' is not in the vocabulary; the tokenizer files do not belong together");
  return it->second;
}

}  // namespace

Bpe::Bpe(const Vocabulary& vocab, const MergeList& merges, const std::string& unk_token, const std::string& source) {
  const int unk_id = lookup(vocab, unk_token, source, "unknown token");
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    append_utf8(symbol, byte_to_unicode(static_cast<unsigned char>(b)));
    auto inner = vocab.find(symbol);
    auto final = vocab.find(symbol + kEndOfWord);
    byte_ids_[b] = inner == vocab.end() ? unk_id : inner->second;
    final_byte_ids_[b] = final == vocab.end() ? unk_id : final->second;
  }
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const int left_id = lookup(vocab, left, source, "merge part");
    const int right_id = lookup(vocab, right, source, "merge part");
    const int merged_id = lookup(vocab, left + right, source, "merge result");
    merges_.insert_or_assign(pair_key(left_id, right_id), Merge{static_cast<uint32_t>(rank), merged_id});
  }
}

const Bpe::Merge* Bpe::find_merge(int left, int right) const {
  auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void Bpe::encode_word(const std::string& word, std::vector<int>& ids) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> merged = merge_word(word);
  ids.insert(ids.end(), merged.begin(), merged.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() < kCacheCapacity) cache_.emplace(word, std::move(merged));
}

std::vector<int> Bpe::merge_word(std::string_view word) const {
  // A doubly linked list of symbols; a merge keeps the left symbol and unlinks the right one.
  struct Symbol {
    int id;
    int prev;
    int next;
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int pos;
    int merged_id;
  };
  auto later = [](const Candidate& a, const Candidate& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };

  const int n = static_cast<int>(word.size());
  std::vector<Symbol> symbols(n);
  for (int i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(word[i]);
    symbols[i] = {i + 1 == n ? final_byte_ids_[byte] : byte_ids_[byte], i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  auto consider = [&](int pos) {
    const int next = symbols[pos].next;
    if (next < 0) return;
    if (const Merge* m = find_merge(symbols[pos].id, symbols[next].id)) queue.push({m->rank, pos, m->merged_id});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    // Entries go stale when a neighbour merged first; tokenizers recognises them by the merge
    // that the pair now stands for, and so do we.
    const Merge* current = find_merge(left.id, right.id);
    if (!current || current->merged_id != top.merged_id) continue;
    left.id = top.merged_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }

  std::vector<int> ids;
  for (int i = n > 0 ? 0 : -1; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

}  // namespace websd::tokenizer
