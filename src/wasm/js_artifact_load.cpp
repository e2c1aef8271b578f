#include "wasm/js_artifact_load.h"

#include "backend/shape_only_backend.h"
#include "core/error.h"

namespace websd::wasm {

JsArtifactLoad::JsArtifactLoad(const std::string& dir, const std::string& backend)
    : source_(ModelSource::open(dir, "", /*verify=*/false)) {
  if (!source_.artifact()) throw Error(dir + ": has no model.json (is this an artifact model made by `websd convert`?)");
  ShapeOnlyBackend shapes;
  auto declared = std::make_shared<ArtifactTensors>(source_.tensor_cache(), source_.tensor_cache_path(), shapes);
  declared->declare_all();
  ModelSource dry = source_;
  dry.use_artifact_tensors(declared);
  TextToImagePipeline::load(dry, shapes);

  backend_ = make_backend(backend);
  tensors_ = std::make_shared<ArtifactTensors>(source_.tensor_cache(), source_.tensor_cache_path(), *backend_);
  source_.use_artifact_tensors(tensors_);
}

val JsArtifactLoad::shards() const {
  val out = val::array();
  for (const TensorShard& s : tensors_->cache().shards) {
    val shard = val::object();
    shard.set("dataPath", s.data_path);
    shard.set("nbytes", static_cast<double>(s.nbytes));
    shard.set("integrity", s.integrity);
    shard.set("component", s.component());
    out.call<void>("push", shard);
  }
  return out;
}

void JsArtifactLoad::put_shard(int index, const val& bytes) {
  if (!tensors_) throw Error("artifact load: finish() was called already");
  const size_t n = bytes["byteLength"].as<size_t>();
  std::vector<uint8_t> copy(n);
  val(emscripten::typed_memory_view(n, copy.data())).call<void>("set", bytes);
  tensors_->put_shard(static_cast<size_t>(index), copy);
}

void JsArtifactLoad::put_staged_shard(int index, uint32_t staging_id) {
  if (!tensors_) throw Error("artifact load: finish() was called already");
  tensors_->put_staged_shard(static_cast<size_t>(index), staging_id);
}

std::unique_ptr<JsPipeline> JsArtifactLoad::finish() {
  if (!tensors_) throw Error("artifact load: finish() was called already");
  tensors_.reset();
  return std::make_unique<JsPipeline>(std::move(backend_), source_);
}

val read_model_json(const std::string& text, const std::string& where) {
  const ModelJson m = ModelJson::parse(text, where);
  val out = val::object();
  out.set("pipeline", m.pipeline_class);
  out.set("family", m.family);
  out.set("dtype", m.dtype);
  val defaults = val::object();
  defaults.set("width", m.default_width);
  defaults.set("height", m.default_height);
  defaults.set("steps", m.default_steps);
  defaults.set("cfgScale", m.default_guidance_scale);
  defaults.set("scheduler", m.default_scheduler);
  out.set("defaults", defaults);
  out.set("weightBytes", static_cast<double>(m.weight_bytes));
  out.set("totalBytes", static_cast<double>(m.total_bytes));
  out.set("tensorCache", m.tensor_cache);
  val files = val::array();
  for (const ModelJson::File& f : m.files) {
    val file = val::object();
    file.set("path", f.path);
    file.set("nbytes", static_cast<double>(f.nbytes));
    file.set("integrity", f.integrity);
    files.call<void>("push", file);
  }
  out.set("files", files);
  return out;
}

}  // namespace websd::wasm
