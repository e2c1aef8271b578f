#include <iostream>

#include "cli/commands.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd::cli {

Runner add_tokenize_command(CLI::App& app) {
  struct Options {
    std::string tokenizer, pad_token, text;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the 77 CLIP token ids of a prompt as a JSON array");
  cmd->add_option("--tokenizer", opt->tokenizer, "tokenizer folder (vocab.json + merges.txt, or tokenizer.json)")->required();
  cmd->add_option("--pad-token", opt->pad_token, "pad with this token instead of the folder's pad token");
  cmd->add_option("text", opt->text, "the prompt")->required();
  return [opt] {
    ClipTokenizer tok = ClipTokenizer::from_folder(opt->tokenizer);
    if (!opt->pad_token.empty()) tok.set_pad_token(opt->pad_token);
    const std::vector<int> ids = tok.encode(opt->text);
    std::cout << "[";
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? ", " : "") << ids[i];
    std::cout << "]\n";
    return 0;
  };
}

}  // namespace websd::cli
