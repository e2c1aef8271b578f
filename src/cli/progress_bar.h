#pragma once
#include <chrono>
#include <string>

namespace websd::cli {

// A one-line progress bar on stderr, drawn only when stderr is a terminal so logs stay clean.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  void update(int done, int total);
  void finish();

 private:
  std::string label_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace websd::cli
