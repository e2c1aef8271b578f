#!/usr/bin/env bash
# On the lent GPU machine (see docs/performance.md for the device call): full-size SD 1.5 and SDXL
# as web artifacts with random weights, made there by the native converter (2 and 6.6 GB: too big
# to send), then each loaded through the web loader from a local HTTP server, cold and warm, and
# generated twice, the first run compiling the kernels (scripts/artifact_load_bench.mjs): SD 1.5 at 512×512, SDXL at 1024×1024, 20 steps,
# guidance 7.5 and 5. Needs .gl (scripts/lent_gpu_pack.sh), the WebAssembly build's Node module and
# a native websd that runs there ($WEBSD_NATIVE, default build-static/websd: `make static-cli`).
# Writes the converter's logs and the benchmark's JSON lines to $OUT (or /tmp/websd-bench);
# WEBSD_BENCH="sd15 sdxl" (the default) picks the models.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/websd-bench}"
dist="${WEBSD_DIST:-/tmp/websd-dist}"
websd="${WEBSD_NATIVE:-build-static/websd}"
mkdir -p "$out" "$dist"
eval "$(scripts/lent_gpu_setup.sh)"
export PATH="$PWD/.gl/bin:$PATH"
status=0
for spec in "sd15 512 7.5" "sdxl 1024 5"; do
  read -r name size guidance <<< "$spec"
  [[ " ${WEBSD_BENCH:-sd15 sdxl} " == *" $name "* ]] || continue
  "$websd" convert --model "assets/configs/$name" --random-weights 0 -o "$dist/$name" > "$out/convert_$name.log" 2>&1 || status=1
  tail -n 2 "$out/convert_$name.log"
  node scripts/artifact_load_bench.mjs "$dist/$name" --backend webgpu --steps 20 --width "$size" --height "$size" \
    --cfg-scale "$guidance" --runs 2 2>&1 | tee "$out/artifacts_$name.jsonl" || status=1
done
exit $status
