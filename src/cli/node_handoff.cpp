#include "cli/node_handoff.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "core/error.h"

namespace websd::cli {

void exec_node_cli(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("WEBSD_NODE_CLI");
  const fs::path script = env && *env ? fs::path(env) : fs::path(WEBSD_SOURCE_DIR) / "web/cli/websd-node.mjs";
  if (!fs::is_regular_file(script))
    throw Error(script.string() + ": the Node CLI that runs --backend webgpu is missing (set WEBSD_NODE_CLI to a websd "
                                  "checkout's web/cli/websd-node.mjs)");
  // Where web/lib/websd.mjs looks for the module by default: <checkout>/build-wasm/web.
  const fs::path checkout = fs::absolute(script).parent_path().parent_path().parent_path();
  const fs::path module = checkout / "build-wasm/web/websd_node.mjs";
  if (!fs::is_regular_file(module))
    throw Error(module.string() + ": the WebAssembly build that runs --backend webgpu is missing; run `make wasm` in " +
                checkout.string());

  std::vector<std::string> argv_strings = {"node", script.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  execvp("node", argv.data());
  throw Error(std::string("cannot run node for --backend webgpu: ") + std::strerror(errno) +
              " (install Node.js 18 or later, or use --backend cpu)");
}

}  // namespace websd::cli
