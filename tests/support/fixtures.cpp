#include "support/fixtures.h"

#include <cmath>
#include <gtest/gtest.h>

namespace websd::test {

std::string fixture(const std::string& relative) { return std::string(WEBSD_FIXTURES_DIR) + "/" + relative; }
std::string asset(const std::string& relative) { return std::string(WEBSD_ASSETS_DIR) + "/" + relative; }

Diff compare(const std::vector<float>& got, const std::vector<float>& want) {
  Diff d;
  if (got.size() != want.size()) {
    ADD_FAILURE() << "size " << got.size() << " vs " << want.size();
    d.max_abs = INFINITY;
    return d;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    double e = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (std::isnan(e)) e = INFINITY;
    d.max_abs = std::max(d.max_abs, e);
    d.mean_abs += e;
  }
  if (!got.empty()) d.mean_abs /= static_cast<double>(got.size());
  return d;
}

}  // namespace websd::test
