#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace websd::cli {

// Each subcommand registers its flags on the app and returns what runs it once parsing succeeded.
using Runner = std::function<int()>;
Runner add_generate_command(CLI::App& app);
Runner add_tokenize_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_info_command(CLI::App& app);
Runner add_convert_command(CLI::App& app);
Runner add_serve_command(CLI::App& app);

// Seeds (--seed, --random-weights): a decimal integer from 0 to 2^64 - 1; CLI11's own conversion
// would let a larger one through as 2^64 - 1.
const CLI::Validator& seed_validator();

}  // namespace websd::cli
