#pragma once
#include "pipeline/generation_parameters.h"
#include "wasm/js_values.h"

namespace websd::wasm {

// GenerationParameters as JS sees them: { prompt, negativePrompt, steps, sampler, scheduleType,
// cfgScale, seed (a number, a BigInt past 2^53), width, height, clipSkip, model }.
val parameters_to_js(const GenerationParameters& p);
// The same object back (absent fields keep their defaults; a field of the wrong type is an Error).
GenerationParameters parameters_from_js(const val& obj);

}  // namespace websd::wasm
