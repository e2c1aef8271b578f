#pragma once
// Every backend op as data: a table of cases (inputs, how to run the op, the tolerance against the
// CPU backend) that a runner plays on any backend and any variant of it (tests/backend/webgpu/
// wasm_selftest.cpp: plain, grid wrapped, tensors split over bindings), and the shapes Stable
// Diffusion runs, for timing (perf_cases). ggml's test-backend-ops is the model; a case's inputs
// come from a seed hashed from its name, so adding a case changes no other.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/tensor.h"

namespace websd::op_cases {

struct Input {
  Shape shape;
  float lo = -1, hi = 1;  // uniform in [lo, hi)
  // A model parameter: rounded to float16 (as checkpoints hold them) and uploaded with
  // upload_weight, so a backend keeping float16 loses nothing.
  bool weight = false;
};

struct OpCase {
  std::string op;    // the Backend method it runs (op_cases_test checks every one has cases)
  std::string name;  // unique; the inputs' seed is hashed from it
  std::vector<Input> inputs;
  std::function<Tensor(Backend&, std::span<const Tensor>)> run;
  double tol = 1e-5;
  bool relative = true;  // |got − want| / max(|want|, 1); else absolute
  double flops = 0;      // for timing: the op's arithmetic (2 per multiply-add)
  // On the tensor-core path (operands rounded to float16, sums in float32); 0: the same as tol.
  double f16_tol = 0;
  // Opt-outs from the runner's variants, each for a stated reason at the case.
  bool wrap = true;
  bool split = true;
};

// Correctness: odd sizes, every op and every path through each kernel.
const std::vector<OpCase>& cases();
// Timing: the shapes full-size SD 1.5 (512×512) and SDXL (1024×1024) run, batch 2 (guidance).
const std::vector<OpCase>& perf_cases();

// The case's inputs, deterministic in its name.
std::vector<HostTensor> make_inputs(const OpCase& c);
// Uploads them (weights with upload_weight) and runs the op.
Tensor run(Backend& backend, const OpCase& c, const std::vector<HostTensor>& inputs);

}  // namespace websd::op_cases
