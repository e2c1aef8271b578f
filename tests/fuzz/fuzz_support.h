#pragma once
// What the fuzz targets share: the input as text or as files, and the one answer bad input may get.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "support/temp_dir.h"

namespace websd::fuzz {

inline std::string text(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// A path of this process's own (`make fuzz` runs the targets side by side) in a folder removed when
// the target exits.
inline std::filesystem::path temp_path(const std::string& name) {
  static const test::TempDir dir("websd-fuzz");
  return dir.path() / name;
}

// A harness failure (a full disk), not a finding in websd: stop with a message that says so.
[[noreturn]] inline void harness_failure(const std::string& what) {
  std::fprintf(stderr, "fuzz harness: %s\n", what.c_str());
  std::_Exit(2);
}

// A property the code promises, checked beyond "no crash": a broken one is reported like a crash.
inline void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz property broken: %s\n", what);
  std::abort();
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) harness_failure("cannot write " + path.string());
}

// The input cut at each NUL byte: several text files in one input (no JSON or merges file holds a raw NUL).
inline std::vector<std::string_view> split_at_nul(std::string_view input) {
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    const size_t nul = input.find('\0', at);
    parts.push_back(input.substr(at, nul == std::string_view::npos ? std::string_view::npos : nul - at));
    if (nul == std::string_view::npos) return parts;
    at = nul + 1;
  }
}

// Runs a reader over bad or good input. A websd::Error is the expected answer to bad input; any
// other exception escapes to libFuzzer, which reports it with the input: a finding, since the user
// would get a message that does not name the file and the fault.
template <class Read>
void expect_clean(Read&& read) {
  try {
    read();
  } catch (const Error&) {
  }
}

}  // namespace websd::fuzz
