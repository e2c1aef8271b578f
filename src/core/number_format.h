#pragma once
#include <string>

namespace websd {

// The shortest decimal that reads back as v ("7.5", "1e+300"), for messages and for the settings
// written into PNGs.
std::string shortest_decimal(double v);

}  // namespace websd
