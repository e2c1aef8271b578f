#pragma once
#include <string>

namespace websd {

// Whether a path named by an artifact manifest stays inside the model's folder: relative, with
// segments of letters, digits, '.', '_' and '-' only, none empty, '.' or '..'. Anything else (an
// absolute path, '../', a URL with a scheme or another origin, a query, a backslash) could make a
// loader read or cache a file the model's publisher does not own.
bool is_safe_relative_path(const std::string& path);

}  // namespace websd
