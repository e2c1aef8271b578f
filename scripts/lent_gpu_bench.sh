#!/usr/bin/env bash
# On the lent GPU machine (after `make wasm` here and scripts/lent_gpu_pack.sh; see
# docs/performance.md for the device call): the kernels against the CPU backend on the real GPU,
# the tiny SD 1.5 golden through WebGPU, then the benchmark — full-size SD 1.5 with random
# weights, 512×512, 20 steps, classifier-free guidance, twice in one process (the first run compiles
# the kernels) — whose per-stage report (--report, the second run) docs/performance.md records;
# then full-size SDXL (random weights) at 1024×1024: 20 Euler steps, one on the float32 kernels. Writes logs and
# the reports to $OUT (or /tmp/websd-bench). WEBSD_BENCH="sd15 sdxl" (the default) picks the
# benchmarks, WEBSD_PRECISIONS="auto f32" (the default) the kernels (--precision); the tests run
# when their files came along (WEBSD_OPS_PERF=1 adds the op timings to selftest.log, batches of
# WEBSD_OPS_PERF_REPEATS, default 20 here as in docs/performance.md's latest table); last, a
# profiled run per benchmark (the kernels by GPU time). PNGs stay in /tmp (the device tool returns
# at most 8 files).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/websd-bench}"
mkdir -p "$out"
eval "$(scripts/lent_gpu_setup.sh)"
export PATH="$PWD/.gl/bin:$PATH" WEBSD_SWIFTSHADER=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
node --input-type=module -e "
  import { nodeGpu } from './web/host/node_gpu.mjs'; import { createGpuHost } from './web/host/gpu_host.mjs';
  const gpu = await nodeGpu(); const host = createGpuHost(gpu); const info = await host.init();
  console.log(JSON.stringify({ adapter: info.adapterInfo, limits: info.limits })); host.destroy();" | tee -a "$out/gpu.txt"
status=0
if [ -f build-wasm/tests/webgpu_selftest.js ]; then
  WEBSD_OPS_PERF_REPEATS="${WEBSD_OPS_PERF_REPEATS:-20}" node --test tests/web/webgpu/backend.test.mjs > "$out/selftest.log" 2>&1 || status=1
  grep -E "^# (FAIL|host stats)|^# (pass|fail)|tensor cores" "$out/selftest.log" | grep -v "^# ok" | head -40
fi
if [ -d tests/fixtures/tiny-sd15 ] && [ -f tests/web/webgpu/pipeline.test.mjs ]; then
  node --test tests/web/webgpu/pipeline.test.mjs > "$out/golden.log" 2>&1 || status=1
  grep -E "^# (pass|fail)|max" "$out/golden.log" | head -20
fi
benches=" ${WEBSD_BENCH:-sd15 sdxl} "
# Each benchmark on the tensor cores where the GPU has them (auto), then on the float32 kernels.
for precision in ${WEBSD_PRECISIONS:-auto f32}; do
  if [[ "$benches" == *" sd15 "* ]]; then
    node web/cli/websd-node.mjs generate --model assets/configs/sd15 --random-weights 0 --backend webgpu --precision "$precision" \
      --prompt "a photograph of an astronaut riding a horse" --steps 20 --cfg-scale 7.5 --seed 0 --width 512 --height 512 \
      --runs 2 -o "/tmp/sd15_$precision.png" --report "$out/sd15_${precision}_report.json" 2>&1 | tee "$out/sd15_$precision.log" || status=1
  fi
  # SDXL at 1024×1024, guidance 5: the whole picture (20 Euler steps) on the tensor cores; on the float32
  # kernels one step (one UNet call, batch 2) and the VAE decode, which is minutes less.
  if [[ "$benches" == *" sdxl "* ]]; then
    sdxl_steps=20; [ "$precision" = f32 ] && sdxl_steps=1
    node web/cli/websd-node.mjs generate --model assets/configs/sdxl --random-weights 0 --backend webgpu --precision "$precision" \
      --prompt "a photograph of an astronaut riding a horse" --steps "$sdxl_steps" --cfg-scale 5 --seed 0 --scheduler euler \
      --width 1024 --height 1024 --runs 2 -o "/tmp/sdxl_$precision.png" --report "$out/sdxl_${precision}_report.json" 2>&1 | tee "$out/sdxl_$precision.log" || status=1
  fi
done
# The kernels by GPU time (--profile: timestamp queries, a pass per dispatch, so not a benchmark):
# SD 1.5 with two steps, SDXL with one, on the first precision.
first="${WEBSD_PRECISIONS:-auto f32}"; first="${first%% *}"
for bench in $benches; do
  size=512; steps=2; [ "$bench" = sdxl ] && size=1024 && steps=1
  node web/cli/websd-node.mjs generate --model "assets/configs/$bench" --random-weights 0 --backend webgpu --precision "$first" \
    --prompt "a photograph of an astronaut riding a horse" --steps $steps --cfg-scale 5 --seed 0 --scheduler euler \
    --width $size --height $size --runs 2 --profile -o "/tmp/${bench}_profile.png" > "$out/${bench}_profile.log" 2>&1 || status=1
  grep -A24 "^kernel profile" "$out/${bench}_profile.log"
done
exit $status
