#include "models/weights.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/config.h"
#include "io/safetensors.h"

namespace websd {

struct Weights::Store {
  struct Source {
    SafetensorsFile* file;
    TensorRecipe recipe;
  };
  Backend* backend = nullptr;
  std::vector<std::shared_ptr<SafetensorsFile>> files;
  std::map<std::string, Source> index;
  std::map<std::string, Tensor> uploaded;  // open_tensors
  Observer observer;
  std::set<std::string> used;
  std::string description;
  std::optional<uint64_t> random_seed;
  float random_scale = 1.0f;
};

Weights Weights::open_files(const std::vector<std::string>& files, Backend& backend) {
  Weights w;
  w.store_ = std::make_shared<Store>();
  w.store_->backend = &backend;
  for (const std::string& f : files) {
    w.store_->files.push_back(std::make_shared<SafetensorsFile>(f));
    SafetensorsFile* file = w.store_->files.back().get();
    for (auto& [name, info] : file->tensors()) w.store_->index[name] = {file, TensorRecipe::copy(name, info.shape)};
    w.store_->description += (w.store_->description.empty() ? "" : ", ") + f;
  }
  return w;
}

Weights Weights::open_mapped(std::shared_ptr<SafetensorsFile> file, std::map<std::string, TensorRecipe> tensors,
                             const std::string& description, Backend& backend) {
  Weights w;
  w.store_ = std::make_shared<Store>();
  w.store_->backend = &backend;
  w.store_->files.push_back(std::move(file));
  for (auto& [name, recipe] : tensors) w.store_->index[name] = {w.store_->files.back().get(), std::move(recipe)};
  w.store_->description = description;
  return w;
}

Weights Weights::open_tensors(std::map<std::string, Tensor> tensors, const std::string& description, Backend& backend) {
  Weights w;
  w.store_ = std::make_shared<Store>();
  w.store_->backend = &backend;
  w.store_->uploaded = std::move(tensors);
  w.store_->description = description;
  return w;
}

void Weights::set_observer(Observer observer) { store_->observer = std::move(observer); }

Weights Weights::random(Backend& backend, uint64_t seed, float scale) {
  Weights w;
  w.store_ = std::make_shared<Store>();
  w.store_->backend = &backend;
  w.store_->random_seed = seed;
  w.store_->random_scale = scale;
  w.store_->description = "random weights (seed " + std::to_string(seed) + ")";
  return w;
}

// splitmix64 seeded by the seed and an FNV-1a hash of the tensor name.
static HostTensor random_tensor(uint64_t seed, float scale, const std::string& name, const Shape& shape) {
  uint64_t state = 1469598103934665603ull;
  for (unsigned char c : name) state = (state ^ c) * 1099511628211ull;
  state ^= seed * 0x9E3779B97F4A7C15ull;
  HostTensor t(shape);
  const int64_t fan_in = shape.size() >= 2 ? t.numel() / shape[0] : 1;
  const float s = scale / std::sqrt(static_cast<float>(fan_in));
  for (float& v : t.data) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    v = s * (static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }
  return t;
}

Weights Weights::open_component(const std::string& dir, Backend& backend) {
  return open_files(component_files(dir), backend);
}

std::vector<std::string> Weights::component_files(const std::string& dir) {
  namespace fs = std::filesystem;
  for (const char* name : {"diffusion_pytorch_model.safetensors", "model.safetensors"}) {
    const fs::path single = fs::path(dir) / name;
    if (fs::exists(single)) return {single.string()};
    const fs::path index = fs::path(dir) / (std::string(name) + ".index.json");
    if (fs::exists(index)) {
      nlohmann::json j = read_json_file(index.string());
      if (!j.contains("weight_map") || !j["weight_map"].is_object())
        throw Error(index.string() + ": has no weight_map object");
      std::set<std::string> shards;
      for (auto& [tensor, shard] : j["weight_map"].items()) shards.insert((fs::path(dir) / shard.get<std::string>()).string());
      return {shards.begin(), shards.end()};
    }
  }
  throw Error(dir + ": no model.safetensors or diffusion_pytorch_model.safetensors (only safetensors weights are supported)");
}

Weights Weights::sub(const std::string& prefix) const {
  Weights w = *this;
  w.prefix_ += prefix;
  return w;
}

bool Weights::has(const std::string& name) const {
  const std::string full = prefix_ + name;
  return store_->index.count(full) != 0 || store_->uploaded.count(full) != 0;
}

Backend& Weights::backend() const { return *store_->backend; }

std::string Weights::describe() const { return store_->description; }

// The message for a tensor whose stored shape is not the one the config implies.
static std::string shape_mismatch(const std::string& where, const std::string& name, const std::string& stored_as,
                                  const Shape& shape, const Shape& expected) {
  const std::string stored = stored_as == name ? "" : " (stored as '" + stored_as + "')";
  return where + ": tensor '" + name + "'" + stored + " has shape " + shape_str(shape) + " but config.json implies " +
         shape_str(expected);
}

const TensorRecipe* Weights::locate(const std::string& full, const Shape& expected) const {
  if (store_->random_seed) return nullptr;
  auto it = store_->index.find(full);
  if (it == store_->index.end())
    throw Error(describe() + ": missing tensor '" + full + "' (the weights do not match config.json)");
  const TensorRecipe& recipe = it->second.recipe;
  if (recipe.shape != expected) throw Error(shape_mismatch(describe(), full, recipe.key, recipe.shape, expected));
  store_->used.insert(full);
  return &recipe;
}

HostTensor Weights::get_host(const std::string& name, const Shape& expected) const {
  const std::string full = prefix_ + name;
  if (store_->uploaded.count(full)) return store_->backend->to_host(get(name, expected));
  const TensorRecipe* recipe = locate(full, expected);
  if (!recipe) return random_tensor(*store_->random_seed, store_->random_scale, full, expected);
  return read_recipe(*store_->index.at(full).file, *recipe);
}

Tensor Weights::get(const std::string& name, const Shape& expected) const {
  const std::string full = prefix_ + name;
  if (auto it = store_->uploaded.find(full); it != store_->uploaded.end()) {
    if (it->second.shape != expected) throw Error(shape_mismatch(describe(), full, full, it->second.shape, expected));
    store_->used.insert(full);
    return it->second;
  }
  Backend& backend = *store_->backend;
  // A backend without values gets none: nothing is read unless the observer asks for it.
  if (!backend.holds_values()) {
    locate(full, expected);
    if (store_->observer) store_->observer(full, expected, [&] { return get_host(name, expected); });
    return backend.upload_weight_bytes(expected, {});
  }
  const HostTensor t = get_host(name, expected);
  if (store_->observer) store_->observer(full, t.shape, [&] { return t; });
  return backend.upload_weight(t.shape, t.data);
}

void Weights::check_all_used() const {
  std::vector<std::string> unused;
  for (auto& [name, file] : store_->index)
    if (!store_->used.count(name)) unused.push_back(name);
  for (auto& [name, tensor] : store_->uploaded)
    if (!store_->used.count(name)) unused.push_back(name);
  if (unused.empty()) return;
  std::string list;
  for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + unused[i];
  if (unused.size() > 5) list += ", ...";
  throw Error(describe() + ": " + std::to_string(unused.size()) +
              " tensors are not used by the model that config.json describes (" + list + ")");
}

}  // namespace websd
