#pragma once
// The JSON report the wasm device tests (run under Node + Dawn by tests/web/webgpu/*.test.mjs)
// return through ccall: {"cases": [{"name", "maxErr", "tol", "ok", "detail"}]}.
#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace websd::device_test {

struct Report {
  std::ostringstream json;
  bool first = true;

  void add(const std::string& name, double err, double tol, bool ok, const std::string& detail) {
    json << (first ? "" : ",") << "{\"name\":\"" << escape(name) << "\",\"maxErr\":" << err << ",\"tol\":" << tol
         << ",\"ok\":" << (ok ? "true" : "false") << ",\"detail\":\"" << escape(detail) << "\"}";
    first = false;
  }
  std::string text() const { return "{\"cases\":[" + json.str() + "]}"; }

  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out;
  }
};

struct Diff {
  double max = 0, mean = 0;  // NaN in either input makes max NaN
};

// relative: |got − want| / max(|want|, 1); otherwise absolute.
inline Diff diff(const std::vector<float>& got, const std::vector<float>& want, bool relative = false) {
  Diff d;
  if (got.size() != want.size()) return {NAN, NAN};
  for (size_t i = 0; i < want.size(); ++i) {
    const double a = std::abs(static_cast<double>(got[i]) - want[i]);
    const double e = relative ? a / std::max(1.0, std::abs(static_cast<double>(want[i]))) : a;
    if (!(e <= d.max)) d.max = e;  // NaN sticks
    d.mean += a;
  }
  if (!want.empty()) d.mean /= static_cast<double>(want.size());
  return d;
}

// The body of an extern "C" entry point: make()'s JSON, or {"error": message} when it throws. The
// text lives in `keep` until the entry point's next call.
inline const char* entry_point(std::string& keep, const std::function<std::string()>& make) {
  try {
    keep = make();
  } catch (const std::exception& e) {
    keep = "{\"error\":\"" + Report::escape(e.what()) + "\"}";
  }
  return keep.c_str();
}

}  // namespace websd::device_test
