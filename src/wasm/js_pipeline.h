#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "pipeline/text_to_image.h"
#include "wasm/js_values.h"

namespace websd::wasm {

// "cpu", or "webgpu" driving the GPU host web/lib/websd.mjs installed at Module.websdGpuHost.
std::unique_ptr<Backend> make_backend(const std::string& name);

// A loaded pipeline as JS sees it. A generation is split in three calls because reading a GPU
// buffer suspends the module (ASYNCIFY) and embind (3.1.6) cannot return across a suspension:
//   begin(options, onStep)  embind, synchronous: checks the options, keeps them for run();
//   run()                   through the C export websd_pipeline_run, called with
//                           ccall(..., {async: true}): computes, keeps the result or the error;
//   finish()                embind, synchronous: returns the result, or throws the error.
// web/lib/websd.mjs makes these one `await pipe.generate(options, onStep)`.
class JsPipeline {
 public:
  // model_dir: a diffusers folder or a single-file checkpoint. options: {randomWeights?: seed}
  // builds the models from their configs with random weights; {config?: dir} gives a single
  // file's configs in place of the standard ones.
  JsPipeline(const std::string& model_dir, const std::string& backend, const val& options);
  // From an opened source (an artifact model whose tensors are on `backend` already).
  JsPipeline(std::unique_ptr<Backend> backend, const ModelSource& source);

  // options: {prompt, negativePrompt?, steps?, cfgScale?, seed?, width?, height?, clipSkip?,
  // scheduler? | schedulerConfig?, previewEvery?}; onStep(step, total, preview) after each step, if
  // a function, preview being {shape: [h, w, 3], data} (pipeline/latent_preview.h) every
  // previewEvery steps and at the last, else undefined. onStep returning false stops the run
  // (web/lib/websd.mjs returns false when the user's callback threw). shouldStop(), if a function,
  // is asked inside every stage between the models' blocks (Backend::stop_point); true stops the
  // run there (web/lib/websd.mjs: the run's AbortSignal).
  void begin(const val& options, const val& on_step, const val& should_stop);
  // Never throws: the error is kept for finish(), since no exception may cross the async export.
  void run() noexcept;
  val finish();

  int default_width() const { return pipe_.default_width(); }
  int default_height() const { return pipe_.default_height(); }
  // What JS passes to websd_pipeline_run.
  uintptr_t address() const { return reinterpret_cast<uintptr_t>(this); }

 private:
  // Each call names its scheduler (or gets the model's own), so one call's choice never leaks
  // into the next.
  void select_scheduler(const std::string& preset, const std::string& config_path);
  // GenerateParams::stop_check while should_stop_ is a function.
  void stop_point(const std::string& stage);

  std::unique_ptr<Backend> backend_;  // before pipe_, which refers to it
  TextToImagePipeline pipe_;

  // The run between begin() and finish().
  std::optional<GenerateParams> params_;
  val on_step_ = val::undefined();
  val should_stop_ = val::undefined();
  double last_yield_ms_ = 0;  // emscripten_get_now() at the run's last yield to the event loop
  int preview_every_ = 0;
  std::optional<GenerateResult> result_;
  std::optional<std::string> error_;
};

}  // namespace websd::wasm
