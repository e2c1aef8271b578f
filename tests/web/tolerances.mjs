// Limits for comparing the engine's float32 results with diffusers' reference outputs
// (tests/fixtures): the JavaScript twin of tests/support/tolerances.h, which gives the measurements.
//
// Every such comparison checks two limits:
// - the acceptance limits of tests/fixtures/README.md: what any correct float32 engine meets, the
//   bar for calling the engine diffusers-compatible;
// - a regression limit near this engine's measured accuracy (images and components within ~1e-5
//   today). The acceptance limits are about a thousand times looser, so a change that made the
//   results a thousandfold worse would still pass them; these catch it. Raise them only with a
//   measured reason.
// The differences are diff()'s { max, mean } (safetensors.mjs), where a NaN sticks and fails.

// tests/fixtures/README.md, float32.
export const README_LIMITS = Object.freeze({
  imageMaxAbs: 5e-3,
  imageMeanAbs: 1e-3,
  latentsMaxAbs: 1e-3,
  componentMaxAbs: 1e-3,
});

// This engine's: max abs error for images and components; for latents, max abs error relative to
// the reference's largest magnitude (the tiny models' latents grow to 60, where float32's spacing
// is 3.8e-6).
export const REGRESSION_LIMITS = Object.freeze({
  maxAbs: 1e-4,
  latentsRelative: 1e-5,
});

// A whole pipeline's image.
export function imageWithinLimits({ max, mean }) {
  return max <= README_LIMITS.imageMaxAbs && mean <= README_LIMITS.imageMeanAbs && max <= REGRESSION_LIMITS.maxAbs;
}

// One model's output, or prompt embeddings.
export function componentWithinLimits({ max }) {
  return max <= README_LIMITS.componentMaxAbs && max <= REGRESSION_LIMITS.maxAbs;
}

// Latents against the reference latents `want` (a typed array).
export function latentsWithinLimits({ max }, want) {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  return max <= README_LIMITS.latentsMaxAbs && max <= REGRESSION_LIMITS.latentsRelative * scale;
}

// The WebGPU backend's tensor-core path (float16 operands, float32 sums; issue 9's rule): a whole
// pipeline's image against the same float32 references.
export const F16_IMAGE_LIMITS = Object.freeze({
  imageMaxAbs: 3e-2,
  imageMeanAbs: 2e-3,
});

export function imageWithinF16Limits({ max, mean }) {
  return max <= F16_IMAGE_LIMITS.imageMaxAbs && mean <= F16_IMAGE_LIMITS.imageMeanAbs;
}
