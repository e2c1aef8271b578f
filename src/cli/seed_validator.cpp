#include <charconv>
#include <cstdint>

#include "cli/commands.h"

namespace websd::cli {

const CLI::Validator& seed_validator() {
  static const CLI::Validator validator(
      [](const std::string& text) -> std::string {
        uint64_t seed = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, seed);
        if (text.empty() || error != std::errc() || stop != end)
          return "must be an integer from 0 to 18446744073709551615 (2^64 - 1), got '" + text + "'";
        return "";
      },
      "SEED");
  return validator;
}

}  // namespace websd::cli
