#!/usr/bin/env bash
# Once, on the development machine: packs the tiny models' diffusers folders and goldens
# (tests/fixtures/<family>/{model,golden}) into build-fixtures/<family>.tar.xz, which
# scripts/lent_gpu_bench.sh unpacks on the lent GPU machine before the goldens. The device tool sends
# at most 64 MiB with a command, the working tree included: .gl (29 MB), the checkout without
# tests/fixtures and assets/tiny-shapes (6 MB) and websd_node.wasm (3 MB) leave room for about
# 26 MB of these, so a call carries tiny-sd15 and tiny-sd2 (26 MB), or tiny-sdxl (18 MB), with the
# fixtures taken out of git's index for the call (docs/performance.md, "Command").
#   scripts/lent_gpu_fixtures.sh [FAMILY...]     (default: tiny-sd15 tiny-sd2 tiny-sdxl)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build-fixtures
families=("$@")
[ ${#families[@]} -gt 0 ] || families=(tiny-sd15 tiny-sd2 tiny-sdxl)
for f in "${families[@]}"; do
  [ -d "tests/fixtures/$f/model" ] || { echo "no tests/fixtures/$f/model" >&2; exit 1; }
  tar -C tests -cf - "fixtures/$f/model" "fixtures/$f/golden" | xz -T2 -6 > "build-fixtures/$f.tar.xz"
  du -h "build-fixtures/$f.tar.xz"
done
