#pragma once
#include <memory>
#include <string>

#include "artifacts/artifact_tensors.h"
#include "pipeline/model_source.h"
#include "wasm/js_pipeline.h"
#include "wasm/js_values.h"

namespace websd::wasm {

// Loading an artifact model from JavaScript (web/lib/websd.mjs loadModel): the JS host fetches and
// verifies the files, the engine checks and uploads them.
//   new ArtifactLoad(dir, backend)  dir holds model.json and the small files it lists, verified by the
//                                   host; the manifest is checked and the models are built on a
//                                   shape-only backend against their configs, so a broken model fails
//                                   before any weight is downloaded;
//   shards()                        what to fetch: [{dataPath, nbytes, integrity, component}];
//   putShard(i, bytes) / putStagedShard(i, stagingId)
//                                   a verified shard: copied into wasm memory for the CPU backend, or
//                                   written by the GPU host from its own staging for webgpu, so a
//                                   weight's bytes never enter wasm memory there;
//   finish()                        the pipeline, once every shard is in.
class JsArtifactLoad {
 public:
  JsArtifactLoad(const std::string& dir, const std::string& backend);

  val shards() const;
  bool takes_staged() const { return backend_ && backend_->name() == "webgpu"; }
  void put_shard(int index, const val& bytes);
  void put_staged_shard(int index, uint32_t staging_id);
  std::unique_ptr<JsPipeline> finish();

 private:
  ModelSource source_;
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<ArtifactTensors> tensors_;
};

// model.json's text → what the host fetches: {pipeline, family, dtype, defaults, weightBytes,
// totalBytes, tensorCache, files: [{path, nbytes, integrity}]}, after the engine's checks.
val read_model_json(const std::string& text, const std::string& where);

}  // namespace websd::wasm
