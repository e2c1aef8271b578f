#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/config.h"
#include "io/safetensors.h"

namespace websd::test {

// A scratch copy of a model component folder for loader tests: the weights are linked or
// rewritten, config.json is whatever the test makes of the original. Removed on destruction.
class TempComponent {
 public:
  explicit TempComponent(const std::string& source) : config(read_json_file(source + "/config.json")), source_(source) {
    std::string pattern = (std::filesystem::temp_directory_path() / "websd-models-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~TempComponent() { std::filesystem::remove_all(dir_); }
  TempComponent(const TempComponent&) = delete;
  TempComponent& operator=(const TempComponent&) = delete;

  nlohmann::json config;  // the original config.json, for the test to edit before loading

  // Links the original weights and writes `config`; returns the folder to load.
  std::string with_original_weights() const {
    for (auto& entry : std::filesystem::directory_iterator(source_))
      if (entry.path().extension() == ".safetensors")
        std::filesystem::create_symlink(std::filesystem::absolute(entry.path()), dir_ / entry.path().filename());
    return write_config();
  }

  // Writes the tensors of the original `file` under new names (edit adds, renames or drops
  // entries) and `config`; returns the folder to load.
  std::string with_rewritten_weights(const std::string& file,
                                     const std::function<void(std::map<std::string, HostTensor>&)>& edit) const {
    SafetensorsFile in(source_ + "/" + file);
    std::map<std::string, HostTensor> tensors;
    for (auto& [name, info] : in.tensors()) tensors[name] = in.read(name);
    edit(tensors);
    write_safetensors((dir_ / file).string(), tensors);
    return write_config();
  }

 private:
  std::string write_config() const {
    std::ofstream(dir_ / "config.json") << config.dump(2);
    return dir_.string();
  }

  std::string source_;
  std::filesystem::path dir_;
};

// Expects load() to fail with a websd::Error whose message names every one of `parts` (the file,
// the field or tensor at fault).
template <class F>
void expect_error_naming(F&& load, std::initializer_list<std::string> parts) {
  try {
    load();
    ADD_FAILURE() << "no error; expected one naming " << *parts.begin();
  } catch (const Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

}  // namespace websd::test
