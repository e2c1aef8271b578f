#!/usr/bin/env bash
# The npm package `websd` (docs/api.md, "The npm package"): the JavaScript library (web/lib), the
# GPU host (web/host) and the WebAssembly build for Node and for browsers, laid out as in this
# repository so their relative imports hold, with docs/api.md as its README. `npm install` of the
# tarball needs no build step. Dawn (the npm package `webgpu`) is an optional peer dependency: Node
# needs it for WebGPU, browsers do not.
#   scripts/npm_pack.sh [OUT_DIR]   (default build-wasm/npm; needs `make wasm`)
# Prints the tarball's path.
set -euo pipefail
cd "$(dirname "$0")/.."
wasm="${WASM_BUILD:-build-wasm}"
out="$(mkdir -p "${1:-$wasm/npm}" && cd "${1:-$wasm/npm}" && pwd)"
for f in websd_node.mjs websd_node.wasm websd_web.mjs websd_web.wasm; do
  [ -f "$wasm/web/$f" ] || { echo "npm_pack: $wasm/web/$f is missing; run \`make wasm\` first" >&2; exit 1; }
done
stage="$out/package"
rm -rf "$stage"
mkdir -p "$stage/web/lib" "$stage/web/host" "$stage/build-wasm/web"
cp web/lib/*.mjs web/lib/index.d.mts "$stage/web/lib/"
cp web/host/gpu_host.mjs web/host/node_gpu.mjs "$stage/web/host/"
cp "$wasm"/web/websd_node.mjs "$wasm"/web/websd_node.wasm "$wasm"/web/websd_web.mjs "$wasm"/web/websd_web.wasm "$stage/build-wasm/web/"
cp docs/api.md "$stage/README.md"
webgpu_version="$(node -p "require('./package.json').devDependencies.webgpu")"
WEBGPU_VERSION="$webgpu_version" node -e '
  const pkg = {
    name: "websd",
    version: "0.1.0",
    description: "Stable Diffusion (SD 1.x/2.x, SDXL) on the user'"'"'s GPU through WebGPU, compiled from C++ to WebAssembly",
    type: "module",
    exports: { ".": { types: "./web/lib/index.d.mts", default: "./web/lib/index.mjs" } },
    types: "./web/lib/index.d.mts",
    engines: { node: ">=20" },
    peerDependencies: { webgpu: process.env.WEBGPU_VERSION },
    peerDependenciesMeta: { webgpu: { optional: true } },
    keywords: ["stable-diffusion", "webgpu", "wasm", "diffusers", "sdxl"],
  };
  require("fs").writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
' "$stage/package.json"
(cd "$out" && npm pack --silent ./package) | tail -1 | sed "s|^|$out/|"
