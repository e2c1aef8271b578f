// `make test`'s smoke run of the fuzz targets: a target's seed corpus (tests/fuzz/make_corpora.py),
// and deterministic mutations of it, through the target's LLVMFuzzerTestOneInput in whatever build
// the suites run in (the checked one: gcc with ASan + UBSan), without clang or libFuzzer. A finding
// aborts the process, as under libFuzzer; `make fuzz` is the real, coverage-guided search.
//   replay_<target> CORPUS_DIR [INPUTS]
// INPUTS (default 3000, what CTest runs): mutated inputs in all, dealt over the seeds.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

using Bytes = std::vector<uint8_t>;

Bytes read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One of the mutations libFuzzer starts from: a flipped bit, a byte set to a boundary value, the
// input cut short, a slice repeated or dropped; parsers fail differently at each.
Bytes mutate(Bytes in, std::mt19937_64& rng) {
  const auto at = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  static constexpr uint8_t kBoundary[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '"', '{', '}', '[', ',', '-', '9', '\\'};
  switch (rng() % 5) {
    case 0:
      if (!in.empty()) in[at(in.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1:
      if (!in.empty()) in[at(in.size())] = kBoundary[at(std::size(kBoundary))];
      break;
    case 2:
      in.resize(at(in.size() + 1));
      break;
    case 3: {
      const size_t from = at(in.size()), length = std::min<size_t>(at(64) + 1, in.size() - from);
      const Bytes slice(in.begin() + static_cast<std::ptrdiff_t>(from), in.begin() + static_cast<std::ptrdiff_t>(from + length));
      in.insert(in.begin() + static_cast<std::ptrdiff_t>(at(in.size() + 1)), slice.begin(), slice.end());
      break;
    }
    default: {
      const size_t from = at(in.size()), length = std::min<size_t>(at(64) + 1, in.size() - from);
      in.erase(in.begin() + static_cast<std::ptrdiff_t>(from), in.begin() + static_cast<std::ptrdiff_t>(from + length));
    }
  }
  return in;
}

void run(const Bytes& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [INPUTS]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  const long inputs = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 3000;
  std::vector<std::filesystem::path> seeds;
  if (std::filesystem::is_directory(corpus))
    for (const auto& entry : std::filesystem::directory_iterator(corpus))
      if (entry.is_regular_file()) seeds.push_back(entry.path());
  if (seeds.empty() || inputs < 0) {
    std::fprintf(stderr, "%s: no seeds in %s (made by tests/fuzz/make_corpora.py), or a negative INPUTS\n", argv[0],
                 corpus.c_str());
    return 2;
  }
  std::sort(seeds.begin(), seeds.end());  // the same inputs on every run
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::mt19937_64 rng(20261207);
  long mutated = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const Bytes seed = read_all(seeds[i]);
    run(seed);
    // Each seed gets its share; a mutation of a mutation now and then reaches further from it.
    const long share = inputs / static_cast<long>(seeds.size()) + (static_cast<long>(i) < inputs % static_cast<long>(seeds.size()));
    Bytes input = seed;
    for (long m = 0; m < share; ++m, ++mutated) {
      input = mutate(m % 4 == 0 ? seed : input, rng);
      run(input);
    }
  }
  std::printf("%s: %zu seeds and %ld mutations, no finding\n", argv[0], seeds.size(), mutated);
  return 0;
}
