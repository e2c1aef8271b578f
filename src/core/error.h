#pragma once
#include <stdexcept>
#include <string>

namespace websd {

// Every user-facing failure (bad file, config, argument, device limit) is an Error whose message
// names the thing at fault and what to do; front ends print it on one line and exit non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace websd
