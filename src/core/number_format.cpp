#include "core/number_format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace websd {

// std::to_chars for floating point is missing from Emscripten 3.1.6's libc++. Plain decimals for
// the magnitudes people type ("10", not %g's "1e+01"), exponents beyond them.
std::string shortest_decimal(double v) {
  char buf[400];
  const double magnitude = std::fabs(v);
  const bool plain = v == 0 || (magnitude >= 1e-4 && magnitude < 1e15);
  // %f counts digits after the point: 17 significant ones below 1 need up to four more.
  for (int digits = plain ? 0 : 1; digits <= (plain ? 21 : 17); ++digits) {
    std::snprintf(buf, sizeof buf, plain ? "%.*f" : "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace websd
