#pragma once
// Limits for comparing the engine's float32 results with diffusers' reference outputs
// (tests/fixtures). Header only and free of GoogleTest: the wasm device tests use it too.
//
// Every such comparison checks two limits:
// - the acceptance limits of tests/fixtures/README.md: what any correct float32 engine meets, the
//   bar for calling the engine diffusers-compatible (other summation orders, kernels and libm stay
//   well inside it);
// - a regression limit near this engine's measured accuracy. The acceptance limits are about a
//   thousand times looser than the errors measured today (images and components within ~1e-5), so
//   a change that made the results a thousandfold worse would still pass them; these catch it.
//   Raise them only with a measured reason.
// tests/web/tolerances.mjs holds the same limits for the JavaScript tests.
namespace websd::test {

// tests/fixtures/README.md, float32.
inline constexpr double kReadmeImageMaxAbs = 5e-3;      // whole pipeline: the image, max abs error
inline constexpr double kReadmeImageMeanAbs = 1e-3;     // whole pipeline: the image, mean abs error
inline constexpr double kReadmeLatentsMaxAbs = 1e-3;    // whole pipeline: the latents after each step
inline constexpr double kReadmeComponentMaxAbs = 1e-3;  // one model (text encoder, UNet, VAE), embeddings

// This engine's regression limits. Images and components: max abs error (worst today: 1.2e-5, the
// tiny SD 1.5 VAE decoder; images 4.4e-6).
inline constexpr double kRegressionMaxAbs = 1e-4;
// Latents: max abs error relative to the reference's largest magnitude. The tiny untrained models'
// latents grow to 60 over a run, where float32's own spacing is 3.8e-6: today's worst, 9.9e-5
// absolute (tiny-sd15 dpmpp2m_8_neg, last step), is 1.6e-6 of the scale (2.0e-6 at worst, step 0).
// An absolute 1e-4 would sit at 99 % of it.
inline constexpr double kRegressionLatentsRelative = 1e-5;

}  // namespace websd::test
