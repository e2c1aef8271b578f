#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>

#include "core/error.h"

namespace websd::test {

// Runs f, which must throw websd::Error whose message holds every one of `parts`; returns the message.
inline std::string expect_error_naming(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
    return message;
  }
  ADD_FAILURE() << "no error (expected one naming '" << (parts.size() ? *parts.begin() : "") << "')";
  return "";
}

}  // namespace websd::test
