#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/node_handoff.h"

namespace websd::cli {

// `websd serve DIST`: the page and DIST's artifact models over HTTP, from the Node CLI (the page runs
// the WebAssembly build, which the Node CLI's server hands out with it).
Runner add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "serve the web page and the artifact models in DIST on 127.0.0.1");
  auto dist = std::make_shared<std::string>();
  auto port = std::make_shared<int>(8080);
  auto host = std::make_shared<std::string>("127.0.0.1");
  cmd->add_option("DIST", *dist, "folder of artifact models (websd convert's output)")->required();
  cmd->add_option("--port", *port, "port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--host", *host, "address to listen on (another than loopback shares the page with the network)")
      ->capture_default_str();
  return [dist, port, host]() -> int {
    exec_node_cli({"serve", *dist, "--port", std::to_string(*port), "--host", *host});
  };
}

}  // namespace websd::cli
