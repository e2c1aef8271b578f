// Every config reader, fed JSON text as a model folder holds it, through the file reading production
// uses (Python's Infinity/NaN words included). Byte 0 picks the reader; byte 1 the number of steps a
// scheduler is then driven through, since most of a scheduler config's fields only act there.
#include <functional>
#include <vector>

#include "fuzz_support.h"
#include "io/config.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_config.h"
#include "pipeline/model_index.h"
#include "rng/torch_generator.h"
#include "sched/scheduler.h"

namespace {


// The denoising loop as a pipeline runs it, on a 1×4×1×1 latent.
void drive(websd::Scheduler& scheduler, int steps) {
  websd::TorchGenerator generator(0);
  scheduler.set_generator(&generator);
  scheduler.set_timesteps(steps);
  websd::HostTensor sample({1, 4, 1, 1}, {0.5f, -1.0f, 2.0f, 0.0f});
  const websd::HostTensor model_output({1, 4, 1, 1}, {0.1f, 0.2f, -0.3f, 1.0f});
  for (float& v : sample.data) v *= static_cast<float>(scheduler.init_noise_sigma());
  for (size_t i = 0; i < scheduler.timesteps().size(); ++i) {
    scheduler.scale_model_input(sample, i);
    sample = scheduler.step(model_output, i, sample);
  }
  scheduler.add_noise(sample, model_output, 0);
}

// The text as a config file on its own, where ConfigReader::load and read_json_file read it.
std::string config_file(const std::string& text) {
  static const std::filesystem::path file = websd::fuzz::temp_path("config.json");
  websd::fuzz::write_file(file, text);
  return file.string();
}

// The text as model_index.json of a folder whose component folders all exist, so that the file
// alone decides.
std::string model_folder(const std::string& model_index) {
  static const std::filesystem::path dir = websd::fuzz::temp_path("model");
  static const bool made = [] {
    for (const char* component : {"unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"})
      std::filesystem::create_directories(dir / component);
    return true;
  }();
  (void)made;
  websd::fuzz::write_file(dir / "model_index.json", model_index);
  return dir.string();
}

using Reader = std::function<void(const std::string& text, int steps)>;

const std::vector<Reader>& readers() {
  static const std::vector<Reader> table = [] {
    std::vector<Reader> t = {
        [](const std::string& text, int) { websd::UNetConfig::load(config_file(text)); },
        [](const std::string& text, int) { websd::AutoencoderKLConfig::load(config_file(text)); },
        [](const std::string& text, int) { websd::ClipTextConfig::load(config_file(text)); },
        [](const std::string& text, int steps) { drive(*websd::load_scheduler(config_file(text)), steps); },
        [](const std::string& text, int) { websd::ModelIndex::load(model_folder(text)); },
    };
    // `--scheduler NAME` over the model's scheduler config.
    for (const std::string& preset : websd::scheduler_presets())
      t.push_back([preset](const std::string& text, int steps) {
        drive(*websd::scheduler_from_preset(preset, websd::read_json_file(config_file(text))), steps);
      });
    return t;
  }();
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Reader& read = readers()[data[0] % readers().size()];
  const int steps = 1 + data[1] % 64;
  websd::fuzz::expect_clean([&] { read(websd::fuzz::text(data + 2, size - 2), steps); });
  return 0;
}
