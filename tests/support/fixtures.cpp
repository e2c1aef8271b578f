#include "support/fixtures.h"

#include <cmath>
#include <gtest/gtest.h>

namespace websd::test {

std::string fixture(const std::string& relative) { return std::string(WEBSD_FIXTURES_DIR) + "/" + relative; }
std::string asset(const std::string& relative) { return std::string(WEBSD_ASSETS_DIR) + "/" + relative; }

double abs_error(double got, double want) {
  const double e = std::fabs(got - want);
  return std::isnan(e) ? INFINITY : e;
}

Diff compare(const std::vector<float>& got, const std::vector<float>& want) {
  Diff d;
  if (got.size() != want.size()) {
    ADD_FAILURE() << "size " << got.size() << " vs " << want.size();
    d.max_abs = INFINITY;
    return d;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = abs_error(got[i], want[i]);
    d.max_abs = std::max(d.max_abs, e);
    d.mean_abs += e;
  }
  if (!got.empty()) d.mean_abs /= static_cast<double>(got.size());
  return d;
}

double max_magnitude(const std::vector<float>& values) {
  double m = 0;
  for (float v : values) m = std::max(m, abs_error(v, 0));
  return m;
}

}  // namespace websd::test
