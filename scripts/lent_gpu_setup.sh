#!/usr/bin/env bash
# Run at the start of every command on the lent GPU machine (which has no Node.js and no Vulkan
# loader and cannot download): unpacks what scripts/lent_gpu_pack.sh put in .gl — the Vulkan
# loader, a Node binary as .gl/bin/node, and Dawn (the npm package `webgpu`) into node_modules —
# so `.gl/bin/node web/cli/websd-node.mjs ... --backend webgpu` runs on the NVIDIA Vulkan driver.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
mkdir -p .gl/bin node_modules/webgpu/dist/linux-x64
xz -dc .gl/node.xz > .gl/bin/node
chmod +x .gl/bin/node
cp .gl/webgpu/index.js .gl/webgpu/package.json node_modules/webgpu/
xz -dc .gl/webgpu/dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
# Some driver images do not register the NVIDIA ICD where the loader looks.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  echo "export VK_DRIVER_FILES=$icd"
fi
