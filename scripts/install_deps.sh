#!/usr/bin/env bash
# Installs what the builds need, only what is missing, so `make demo`, `make test` and `make wasm`
# work on a fresh Debian 12 machine. Needs root (or sudo).
#   scripts/install_deps.sh        the native build and its tests (python3 makes the fuzz targets'
#                                  seed corpora for their smoke run, tests/fuzz/make_corpora.py)
#   scripts/install_deps.sh wasm   also Debian's emscripten, and utf8proc's source (for emcc) in
#                                  WASM_THIRD_PARTY (default build-wasm/third_party)
#   scripts/install_deps.sh web    also chromium (headless browser, and its SwiftShader Vulkan driver
#                                  for WebGPU without a GPU) and libvulkan1 (the loader Dawn needs in
#                                  Node); scripts/install_web_deps.sh adds the npm packages
#   scripts/install_deps.sh node   also Node and npm if there are none (for eslint in `make lint`)
#   scripts/install_deps.sh fuzz   also clang 14, its libFuzzer and sanitizer runtimes for `make fuzz`
set -euo pipefail

mode="${1:-native}"
packages=(cmake g++ make pkg-config
          nlohmann-json3-dev libutf8proc-dev libcli11-dev libstb-dev libgtest-dev
          gcovr cppcheck libssl-dev python3)
# googletest ships /usr/src/googletest, which the wasm build compiles with emcc.
[ "$mode" = wasm ] && packages+=(emscripten nodejs googletest dpkg-dev)
[ "$mode" = web ] && packages+=(chromium libvulkan1)
[ "$mode" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)
# Node may come from elsewhere (nodesource, nvm): only ask apt for it when there is none.
[[ "$mode" = web || "$mode" = node ]] && ! { command -v node && command -v npm; } >/dev/null && packages+=(nodejs npm)

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_update() {
  [ -n "$updated" ] && return
  $sudo apt-get update -qq
  updated=1
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "installing: ${missing[*]}"
  apt_update
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$mode" = wasm ] || exit 0

# utf8proc has no wasm package: its Debian source is compiled by the wasm build. apt-get source
# needs deb-src entries; they are added as a twin of the machine's deb822 list.
third_party="${WASM_THIRD_PARTY:-build-wasm/third_party}"
compgen -G "$third_party/utf8proc-*/utf8proc.c" >/dev/null && exit 0
debian_list=/etc/apt/sources.list.d/debian.sources
src_list=/etc/apt/sources.list.d/debian-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  sed 's/^Types: deb$/Types: deb-src/' "$debian_list" | $sudo tee "$src_list" >/dev/null
  updated=""
fi
apt_update
mkdir -p "$third_party"
(cd "$third_party" && apt-get source -qq utf8proc >/dev/null)
