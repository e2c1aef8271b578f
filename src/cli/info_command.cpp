#include <iostream>

#include "cli/commands.h"
#include "pipeline/model_info.h"

namespace websd::cli {

Runner add_info_command(CLI::App& app) {
  struct Options {
    std::string model, config;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "info", "describe a model: format, family, and per component its class, parameters and dtypes");
  cmd->add_option("--model", opt->model, "diffusers model folder, or a single-file .safetensors checkpoint")->required();
  cmd->add_option("--config", opt->config, "with a single file: a folder with the model's configs instead of the standard ones")
      ->check(CLI::ExistingDirectory);
  return [opt] {
    std::cout << describe_model(opt->model, opt->config);
    return 0;
  };
}

}  // namespace websd::cli
