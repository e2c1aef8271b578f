#include "convert/converter.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "backend/shape_only_backend.h"
#include "convert/shard_writer.h"
#include "core/error.h"
#include "io/sha256.h"
#include "pipeline/text_to_image.h"
#include "tokenizer/tokenizer_files.h"

namespace websd {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConverter = "websd convert 1";

// Writes a file of the model and returns its model.json entry.
ModelJson::File write_file(const fs::path& out, const std::string& relative, const std::string& text) {
  const fs::path path = out / relative;
  fs::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary);
  if (!file.write(text.data(), static_cast<std::streamsize>(text.size())) || !file.flush())
    throw Error(path.string() + ": cannot write (disk full?)");
  return {relative, text.size(), sha256_integrity({reinterpret_cast<const uint8_t*>(text.data()), text.size()})};
}

// Copies the small files a load reads (model_index.json, configs, tokenizers, scheduler) and
// returns their paths relative to `out`.
std::vector<ModelJson::File> write_small_files(const ModelSource& source, const fs::path& out) {
  std::vector<ModelJson::File> files;
  const auto put = [&](const std::string& relative, const std::string& text) { files.push_back(write_file(out, relative, text)); };
  const ModelIndex& index = source.index();
  put("model_index.json", read_text_file(index.component("model_index.json")));
  const bool xl = index.family == PipelineFamily::kStableDiffusionXL;
  std::vector<std::string> encoders = {"text_encoder"}, tokenizers = {"tokenizer"};
  if (xl) {
    encoders.push_back("text_encoder_2");
    tokenizers.push_back("tokenizer_2");
  }
  // Configs as the load reads them: a single file's standard configs sized to its weights.
  for (const std::string& c : encoders) put(c + "/config.json", source.config(c).json().dump(2) + "\n");
  for (const char* c : {"unet", "vae"}) put(std::string(c) + "/config.json", source.config(c).json().dump(2) + "\n");
  put("scheduler/scheduler_config.json", read_text_file(index.component("scheduler") + "/scheduler_config.json"));
  for (const std::string& t : tokenizers)
    for (const std::string& name : tokenizer::tokenizer_folder_files())
      if (fs::exists(fs::path(index.component(t)) / name))
        put(t + "/" + name, read_text_file((fs::path(index.component(t)) / name).string()));
  return files;
}

// Replaces `output` by `staged`, refusing to delete anything that is not an older artifact model.
void move_into_place(const fs::path& staged, const fs::path& output) {
  if (fs::exists(output)) {
    const bool empty_dir = fs::is_directory(output) && fs::is_empty(output);
    if (!empty_dir && !ModelSource::is_artifact_folder(output.string()))
      throw Error(output.string() + ": exists and is not an artifact model; choose another -o or remove it");
    fs::remove_all(output);
  }
  fs::rename(staged, output);
}

}  // namespace

ConvertResult convert_model(const ConvertOptions& o) {
  if (o.output.empty()) throw Error("convert: no output folder (-o DIST/NAME)");
  ModelSource source = ModelSource::open(o.model, o.config_dir);
  if (o.random_seed) source.use_random_weights(*o.random_seed);

  // First the shapes alone, for the progress total; no weight is read.
  const size_t element_size = o.dtype == WeightBytes::DType::F16 ? 2 : 4;
  uint64_t total = 0;
  ShapeOnlyBackend shapes;
  source.observe_weights([&](const std::string&, const std::string&, const Shape& shape, const auto&) {
    total += static_cast<uint64_t>(numel(shape)) * element_size;
  });
  TextToImagePipeline::load(source, shapes);

  const fs::path output = fs::absolute(o.output).lexically_normal();
  const fs::path staged = output.parent_path() / ("." + output.filename().string() + ".partial-" + std::to_string(getpid()));
  fs::remove_all(staged);
  fs::create_directories(staged);
  try {
    ShardWriter writer(staged.string(), o.dtype, o.shard_bytes);
    uint64_t done = 0;
    source.observe_weights([&](const std::string& component, const std::string& name, const Shape& shape,
                               const std::function<HostTensor()>& values) {
      writer.add(component + "/" + name, values());
      done += static_cast<uint64_t>(numel(shape)) * element_size;
      if (o.on_progress) o.on_progress(done, total);
    });
    const TextToImagePipeline pipe = TextToImagePipeline::load(source, shapes);
    writer.finish();

    ConvertResult r;
    r.cache = writer.cache();
    r.cache.metadata["converter"] = kConverter;

    ModelJson& m = r.model;
    m.pipeline_class = source.index().pipeline_class;
    m.family = pipe.family() == PipelineFamily::kStableDiffusionXL ? "sdxl" : "sd";
    m.dtype = dtype_name(o.dtype);
    m.converter = kConverter;
    m.default_width = pipe.default_width();
    m.default_height = pipe.default_height();
    m.default_steps = GenerateParams{}.steps;
    m.default_guidance_scale = pipe.default_guidance_scale();
    m.default_scheduler = source.index().scheduler_class;
    m.files = write_small_files(source, staged);
    m.tensor_cache = TensorCache::kFileName;
    m.files.push_back(write_file(staged, m.tensor_cache, r.cache.to_json().dump() + "\n"));
    m.weight_bytes = writer.bytes_written();
    uint64_t small = 0;
    for (const ModelJson::File& f : m.files) small += f.nbytes;
    // model.json counts itself: its size depends on the total only through the digits of one number.
    m.total_bytes = m.weight_bytes + small;
    for (int i = 0; i < 3; ++i) m.total_bytes = m.weight_bytes + small + m.to_json().dump(2).size() + 1;
    write_file(staged, ModelJson::kFileName, m.to_json().dump(2) + "\n");
    move_into_place(staged, output);
    return r;
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staged, ignored);
    throw;
  }
}

}  // namespace websd
