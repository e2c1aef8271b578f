#pragma once
#include <functional>
#include <string>

#include "core/error.h"
#include "temp_folder.h"

namespace websd::test {

// A hand-made vocabulary small enough to reason about merge by merge.
inline const char* kTinyVocab = R"({"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 2, "b": 3, "c": 4,
  "a</w>": 5, "b</w>": 6, "c</w>": 7, "ab": 8, "bc</w>": 9, "ab</w>": 10, "abc</w>": 11, "aa": 12,
  "!": 13, "!</w>": 14, "x</w>": 15})";

inline std::string message_of_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no websd::Error thrown)";
}

}  // namespace websd::test

// The statement throws websd::Error and its message contains `part`.
#define EXPECT_ERROR_CONTAINS(statement, part)                                          \
  do {                                                                                  \
    const std::string message_ = ::websd::test::message_of_error([&] { (void)(statement); }); \
    EXPECT_NE(message_.find(part), std::string::npos) << message_;                      \
  } while (0)
