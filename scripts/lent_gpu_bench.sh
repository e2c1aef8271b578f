#!/usr/bin/env bash
# On the lent GPU machine (after `make wasm` here and scripts/lent_gpu_pack.sh; see
# docs/performance.md for the device call): the kernels against the CPU backend on the real GPU,
# the tiny models' goldens through WebGPU, then the benchmark — full-size SD 1.5 with random
# weights, 512×512, 20 steps, classifier-free guidance, twice in one process (the first run compiles
# the kernels) — whose per-stage report (--report, the second run) docs/performance.md records;
# then full-size SDXL (random weights) at 1024×1024: 20 Euler steps, one on the float32 kernels. Writes logs and
# the reports to $OUT (or /tmp/websd-bench). WEBSD_BENCH="sd15 sdxl" (the default) picks the
# benchmarks, WEBSD_PRECISIONS="auto f32" (the default) the kernels (--precision); the tests run
# when their files came along (WEBSD_OPS_PERF=1 adds the op timings to selftest.log, batches of
# WEBSD_OPS_PERF_REPEATS, default 20 here as in docs/performance.md's latest table); last, a
# profiled run per benchmark (the kernels by GPU time). PNGs stay in /tmp (the device tool returns
# at most 8 files).
# Every generate runs with an empty NVIDIA shader cache of its own (__GL_SHADER_DISK_CACHE_PATH), so
# each first run's compiling is a cold one, as a fresh machine's, not what an earlier process left.
# WEBSD_BASELINE=DIR (a websd_node.mjs and .wasm of another build) runs each benchmark again with it,
# in the same call, logs as <bench>_<precision>_baseline.log: builds compare only on one machine.
# Fixtures packed by scripts/lent_gpu_fixtures.sh (build-fixtures/*.tar.xz) are unpacked first, and
# the goldens run for every tiny model whose folder is there.
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
for f in build-fixtures/*.tar.xz; do [ -f "$f" ] && xz -dc "$f" | tar -C tests -xf -; done
current="$(mktemp -d)"
cp build-wasm/web/websd_node.mjs build-wasm/web/websd_node.wasm "$current/"
# generate BUILD_DIR LOG ARGS...: websd-node.mjs generate with that build and a cold shader cache.
generate() {
  local build="$1" log="$2"
  shift 2
  cp "$build/websd_node.mjs" "$build/websd_node.wasm" build-wasm/web/
  __GL_SHADER_DISK_CACHE_PATH="$(mktemp -d)" node web/cli/websd-node.mjs generate "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  cp "$current/websd_node.mjs" "$current/websd_node.wasm" build-wasm/web/
  return "$rc"
}
builds=("$current")
[ -n "${WEBSD_BASELINE:-}" ] && builds+=("$WEBSD_BASELINE")
suffix() { [ "$1" = "$current" ] || echo _baseline; }
status=0
if [ -f build-wasm/tests/webgpu_selftest.js ]; then
  WEBSD_OPS_PERF_REPEATS="${WEBSD_OPS_PERF_REPEATS:-20}" node --test tests/web/webgpu/backend.test.mjs > "$out/selftest.log" 2>&1 || status=1
  grep -E "^# (FAIL|host stats)|^# (pass|fail)|tensor cores" "$out/selftest.log" | grep -v "^# ok" | head -40
fi
families=$(for f in tiny-sd15 tiny-sd2 tiny-sdxl; do [ -d "tests/fixtures/$f/model" ] && echo "$f"; done | paste -sd '|')
if [ -n "$families" ] && [ -f tests/web/webgpu/pipeline.test.mjs ]; then
  node --test --test-name-pattern="$families" tests/web/webgpu/pipeline.test.mjs > "$out/golden.log" 2>&1 || status=1
  grep -E "^# (pass|fail)|max" "$out/golden.log" | head -20
fi
benches=" ${WEBSD_BENCH:-sd15 sdxl} "
# Each benchmark on the tensor cores where the GPU has them (auto), then on the float32 kernels.
for precision in ${WEBSD_PRECISIONS:-auto f32}; do
  for build in "${builds[@]}"; do
    tag="${precision}$(suffix "$build")"
    if [[ "$benches" == *" sd15 "* ]]; then
      generate "$build" "$out/sd15_$tag.log" --model assets/configs/sd15 --random-weights 0 --backend webgpu --precision "$precision" \
        --prompt "a photograph of an astronaut riding a horse" --steps 20 --cfg-scale 7.5 --seed 0 --width 512 --height 512 \
        --runs 2 -o "/tmp/sd15_$tag.png" --report "$out/sd15_${tag}_report.json" || status=1
    fi
    # SDXL at 1024×1024, guidance 5: the whole picture (20 Euler steps) on the tensor cores; on the
    # float32 kernels one step (one UNet call, batch 2) and the VAE decode, which is minutes less.
    if [[ "$benches" == *" sdxl "* ]]; then
      sdxl_steps=20; [ "$precision" = f32 ] && sdxl_steps=1
      generate "$build" "$out/sdxl_$tag.log" --model assets/configs/sdxl --random-weights 0 --backend webgpu --precision "$precision" \
        --prompt "a photograph of an astronaut riding a horse" --steps "$sdxl_steps" --cfg-scale 5 --seed 0 --scheduler euler \
        --width 1024 --height 1024 --runs 2 -o "/tmp/sdxl_$tag.png" --report "$out/sdxl_${tag}_report.json" || status=1
    fi
  done
done
# The kernels by GPU time (--profile: timestamp queries, a pass per dispatch, so not a benchmark):
# SD 1.5 with two steps, SDXL with one, on the first precision.
first="${WEBSD_PRECISIONS:-auto f32}"; first="${first%% *}"
for bench in $benches; do
  size=512; steps=2; [ "$bench" = sdxl ] && size=1024 && steps=1
  generate "$current" "$out/${bench}_profile.log" --model "assets/configs/$bench" --random-weights 0 --backend webgpu \
    --precision "$first" --prompt "a photograph of an astronaut riding a horse" --steps $steps --cfg-scale 5 --seed 0 \
    --scheduler euler --width $size --height $size --runs 2 --profile -o "/tmp/${bench}_profile.png" > /dev/null || status=1
  grep -A24 "^kernel profile" "$out/${bench}_profile.log"
done
exit $status
