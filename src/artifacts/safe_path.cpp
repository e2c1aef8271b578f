#include "artifacts/safe_path.h"

#include <cctype>

namespace websd {

bool is_safe_relative_path(const std::string& path) {
  if (path.empty() || path.size() > 512) return false;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
    start = end + 1;
  }
  return true;
}

}  // namespace websd
