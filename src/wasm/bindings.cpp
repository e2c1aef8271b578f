// The JS face of the engine (embind): what web/lib/websd.mjs wraps. Options mirror the native
// CLI's flags; every failure reaches JS as an Error carrying websd::Error's message.
#include <emscripten/bind.h>
#include <emscripten/emscripten.h>

#include <map>
#include <memory>

#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/model_info.h"
#include "tokenizer/clip_tokenizer.h"
#include "pipeline/generation_parameters.h"
#include "wasm/js_artifact_load.h"
#include "wasm/js_parameters.h"
#include "wasm/js_pipeline.h"
#include "wasm/js_values.h"

namespace websd::wasm {
namespace {

// options: {randomWeights?: seed}. The webgpu backend needs Module.websdGpuHost first.
std::unique_ptr<JsPipeline> load_pipeline(const std::string& model_dir, const std::string& backend, const val& options) {
  return with_js_errors([&] { return std::make_unique<JsPipeline>(model_dir, backend, options); });
}

void begin_generate(JsPipeline& p, const val& options, const val& on_step, const val& should_stop) {
  with_js_errors([&] { p.begin(options, on_step, should_stop); });
}

val finish_generate(JsPipeline& p) {
  return with_js_errors([&] { return p.finish(); });
}

val tokenize(const std::string& tokenizer_dir, const std::string& text, const std::string& pad_token) {
  return with_js_errors([&] {
    ClipTokenizer tok = ClipTokenizer::from_folder(tokenizer_dir);
    if (!pad_token.empty()) tok.set_pad_token(pad_token);
    val ids = val::array();
    for (int id : tok.encode(text)) ids.call<void>("push", id);
    return ids;
  });
}

// What `websd info` prints for a model folder or single file; config: a single file's config folder.
std::string model_info(const std::string& path, const std::string& config) {
  return with_js_errors([&] { return describe_model(path, config); });
}

// parameters (optional): a picture's settings (js_parameters.h), written as AUTOMATIC1111's
// "parameters" text, the same bytes as the native CLI's PNGs.
PngText png_text(const val& parameters) {
  if (parameters.isUndefined() || parameters.isNull()) return {};
  return {{"parameters", format_parameters(parameters_from_js(parameters))}};
}

val encode_png_js(const val& image, const val& parameters) {
  return with_js_errors([&] {
    const std::vector<uint8_t> png = encode_png(tensor_from_js(image, "image"), png_text(parameters));
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(png.size(), png.data())).call<val>("slice");
  });
}

void write_png_js(const std::string& path, const val& image, const val& parameters) {
  with_js_errors([&] { write_png(path, tensor_from_js(image, "image"), png_text(parameters)); });
}

std::string format_parameters_js(const val& parameters) {
  return with_js_errors([&] { return format_parameters(parameters_from_js(parameters)); });
}

val parse_parameters_js(const std::string& text) {
  return with_js_errors([&] { return parameters_to_js(parse_parameters(text)); });
}

// A PNG's "parameters" text (AUTOMATIC1111's), or null when it has none.
val png_parameters_js(const val& bytes) {
  return with_js_errors([&] {
    const PngText text = read_png_text(emscripten::convertJSArrayToNumberVector<uint8_t>(bytes));
    for (const auto& [keyword, value] : text)
      if (keyword == "parameters") return val(value);
    return val::null();
  });
}

// tensors: {name: {shape, data}}, written as float32 by the same writer as the native CLI.
void write_safetensors_js(const std::string& path, const val& tensors) {
  with_js_errors([&] {
    std::map<std::string, HostTensor> out;
    for (const std::string& name : emscripten::vecFromJSArray<std::string>(val::global("Object").call<val>("keys", tensors)))
      out[name] = tensor_from_js(tensors[name], "tensor '" + name + "'");
    write_safetensors(path, out);
  });
}

std::unique_ptr<JsArtifactLoad> open_artifact_load(const std::string& dir, const std::string& backend) {
  return with_js_errors([&] { return std::make_unique<JsArtifactLoad>(dir, backend); });
}

void put_shard(JsArtifactLoad& load, int index, const val& bytes) {
  with_js_errors([&] { load.put_shard(index, bytes); });
}

void put_staged_shard(JsArtifactLoad& load, int index, uint32_t staging_id) {
  with_js_errors([&] { load.put_staged_shard(index, staging_id); });
}

std::unique_ptr<JsPipeline> finish_artifact_load(JsArtifactLoad& load) {
  return with_js_errors([&] { return load.finish(); });
}

val model_json(const std::string& text, const std::string& where) {
  return with_js_errors([&] { return read_model_json(text, where); });
}

}  // namespace

EMSCRIPTEN_BINDINGS(websd) {
  emscripten::class_<JsPipeline>("Pipeline")
      .class_function("load", &load_pipeline)
      .function("begin", &begin_generate)
      .function("finish", &finish_generate)
      .function("address", &JsPipeline::address)
      .function("defaultWidth", &JsPipeline::default_width)
      .function("defaultHeight", &JsPipeline::default_height);
  emscripten::class_<JsArtifactLoad>("ArtifactLoad")
      .class_function("open", &open_artifact_load)
      .function("shards", &JsArtifactLoad::shards)
      .function("takesStaged", &JsArtifactLoad::takes_staged)
      .function("putShard", &put_shard)
      .function("putStagedShard", &put_staged_shard)
      .function("finish", &finish_artifact_load);
  emscripten::function("readModelJson", &model_json);
  emscripten::function("tokenize", &tokenize);
  emscripten::function("modelInfo", &model_info);
  emscripten::function("encodePng", &encode_png_js);
  emscripten::function("writePng", &write_png_js);
  emscripten::function("formatParameters", &format_parameters_js);
  emscripten::function("parseParameters", &parse_parameters_js);
  emscripten::function("pngParameters", &png_parameters_js);
  emscripten::function("modelLabel", &model_label);
  emscripten::function("writeSafetensors", &write_safetensors_js);
}

}  // namespace websd::wasm

// The computing part of a generation (JsPipeline::run), called by web/lib/websd.mjs with
// ccall('websd_pipeline_run', null, ['number'], [pipe.address()], {async: true}): a plain C export,
// because a WebGPU read suspends the module and an embind call cannot return across that.
extern "C" EMSCRIPTEN_KEEPALIVE void websd_pipeline_run(websd::wasm::JsPipeline* pipeline) { pipeline->run(); }
