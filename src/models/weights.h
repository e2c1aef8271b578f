#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/tensor_recipe.h"

namespace websd {

// The parameters of one model component (a diffusers/transformers state dict in one or more
// safetensors files), uploaded to the backend as layers ask for them. Views made with sub() share
// the files and the record of which tensors were used, so check_all_used() can say that a
// checkpoint does not match its config instead of silently running with missing pieces.
class Weights {
 public:
  // A component folder: model.safetensors, diffusion_pytorch_model.safetensors, or a sharded
  // *.safetensors.index.json.
  static Weights open_component(const std::string& dir, Backend& backend);
  static Weights open_files(const std::vector<std::string>& files, Backend& backend);
  // The safetensors files open_component reads for a component folder.
  static std::vector<std::string> component_files(const std::string& dir);
  // Tensors named as in diffusers, each made from one stored in `file` by its recipe: a component
  // of a single-file checkpoint (models/single_file), read in place. Views of one file share it.
  static Weights open_mapped(std::shared_ptr<SafetensorsFile> file, std::map<std::string, TensorRecipe> tensors,
                             const std::string& description, Backend& backend);
  // No checkpoint: every tensor a loader asks for exists and is made up on the spot from the seed
  // and its name (so it does not depend on load order), uniform in ±scale/√fan_in. Lets the full-size
  // models be built to measure memory and speed where no weights can be downloaded. has() is false
  // here: a loader that probes for an optional tensor or a legacy name gets the current layout.
  static Weights random(Backend& backend, uint64_t seed, float scale = 1.0f);
  // Tensors already on the backend (an artifact model's, uploaded as its shards arrived), named as
  // in diffusers; get() checks their shapes against the config like any other source.
  static Weights open_tensors(std::map<std::string, Tensor> tensors, const std::string& description, Backend& backend);

  // Called with each tensor's full name and shape as get() hands it out, and a function that reads
  // its values: how the converter learns which tensors a model reads, in the form it reads them.
  using Observer =
      std::function<void(const std::string& name, const Shape& shape, const std::function<HostTensor()>& values)>;
  void set_observer(Observer observer);

  Weights sub(const std::string& prefix) const;
  Weights operator[](const std::string& prefix) const { return sub(prefix + "."); }
  Weights operator[](int index) const { return sub(std::to_string(index) + "."); }

  bool has(const std::string& name) const;
  // Uploads a tensor; its shape must match what the config implies.
  Tensor get(const std::string& name, const Shape& expected) const;
  HostTensor get_host(const std::string& name, const Shape& expected) const;
  Backend& backend() const;
  std::string describe() const;  // the files, for error messages

  void check_all_used() const;

 private:
  struct Store;
  // The recipe of a stored tensor after checking it exists with the expected shape (marking it
  // used); null for random weights.
  const TensorRecipe* locate(const std::string& full, const Shape& expected) const;
  std::shared_ptr<Store> store_;
  std::string prefix_;
};

}  // namespace websd
