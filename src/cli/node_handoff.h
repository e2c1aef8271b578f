#pragma once
#include <string>
#include <vector>

namespace websd::cli {

// The WebGPU backend runs inside the WebAssembly build, so the native CLI hands a webgpu run to
// the Node CLI: replaces this process with `node <websd-node.mjs> <args>` (same flags, same
// outputs, same exit codes). The script is $WEBSD_NODE_CLI, else the source tree's
// web/cli/websd-node.mjs; returns only by throwing websd::Error, naming what is missing (the
// script, the wasm build and `make wasm`, or node).
[[noreturn]] void exec_node_cli(const std::vector<std::string>& args);

}  // namespace websd::cli
