#pragma once
#include <cstdint>

namespace websd::cli {

// The process's peak resident set size so far, in bytes (what `time -v` calls maximum RSS).
uint64_t peak_rss_bytes();
// Its resident set size now (Linux's /proc/self/statm; 0 where there is none): a soak's `--runs`
// report records it after each run.
uint64_t resident_bytes();
double to_mib(uint64_t bytes);

}  // namespace websd::cli
