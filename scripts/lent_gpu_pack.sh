#!/usr/bin/env bash
# Once, on the development machine: packs into .gl (ignored by git) what the lent GPU machine
# lacks — Debian's Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver (libGLX_nvidia) loads, this machine's Node binary and Dawn's dawn.node, xz-compressed to
# fit the device tool's 64 MiB transfer limit. scripts/lent_gpu_setup.sh unpacks them there.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
mkdir -p .gl/webgpu
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || scripts/install_web_deps.sh
compgen -G '.gl/libvulkan1_*.deb' >/dev/null || (cd .gl && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0)
[ -s .gl/node.xz ] || xz -T2 -c "$(command -v node)" > .gl/node.xz
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .gl/webgpu/
[ -s .gl/webgpu/dawn.node.xz ] || xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gl/webgpu/dawn.node.xz
du -sh .gl
