#include <iostream>
#include <map>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"websd: Stable Diffusion on your own machine, exactly like diffusers"};
  app.require_subcommand(1);
  std::map<CLI::App*, websd::cli::Runner> runners;
  auto add = [&](websd::cli::Runner (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    websd::cli::Runner run = adder(app);
    runners[app.get_subcommands({})[before]] = std::move(run);
  };
  add(websd::cli::add_generate_command);
  add(websd::cli::add_tokenize_command);
  add(websd::cli::add_bench_command);
  add(websd::cli::add_info_command);
  add(websd::cli::add_convert_command);
  add(websd::cli::add_serve_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "websd: " << e.what() << " (see websd --help)\n";
    return 2;
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const websd::Error& e) {
    std::cerr << "websd: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "websd: error: out of memory (try a smaller width/height)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "websd: internal error: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
