#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "convert/converter.h"
#include "pipeline/model_source.h"
#include "pipeline/text_to_image.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace websd::test {

inline ConvertOptions convert_options(const std::string& model, const std::string& output) {
  ConvertOptions o;
  o.model = model;
  o.output = output;
  return o;
}

// The run every comparison uses: short, with guidance and a negative prompt, so that the text
// encoders, every UNet block and the VAE all take part.
inline GenerateParams tiny_params() {
  GenerateParams p;
  p.prompt = "a red circle on a white background";
  p.negative_prompt = "blurry";
  p.steps = 3;
  p.seed = 11;
  return p;
}

inline GenerateResult generate_on_cpu(const std::string& model, const std::string& config_dir = "") {
  CpuBackend backend;
  TextToImagePipeline pipe = TextToImagePipeline::load(ModelSource::open(model, config_dir), backend);
  return pipe.generate(tiny_params());
}

// Float16-exact weights stored as float16 or float32 load to the same values: the runs agree.
inline void expect_same_run(const GenerateResult& got, const GenerateResult& want) {
  EXPECT_TENSOR_NEAR(got.prompt_embeds, want.prompt_embeds, 1e-6);
  ASSERT_EQ(got.negative_prompt_embeds.has_value(), want.negative_prompt_embeds.has_value());
  if (want.negative_prompt_embeds) EXPECT_TENSOR_NEAR(*got.negative_prompt_embeds, *want.negative_prompt_embeds, 1e-6);
  ASSERT_EQ(got.pooled_prompt_embeds.has_value(), want.pooled_prompt_embeds.has_value());
  if (want.pooled_prompt_embeds) EXPECT_TENSOR_NEAR(*got.pooled_prompt_embeds, *want.pooled_prompt_embeds, 1e-6);
  EXPECT_TENSOR_NEAR(got.latents, want.latents, 1e-6);
  EXPECT_TENSOR_NEAR(got.image, want.image, 1e-6);
  EXPECT_EQ(got.timesteps, want.timesteps);
}

// Every regular file under dir, by path relative to it, with its bytes.
inline std::map<std::string, std::vector<uint8_t>> folder_files(const std::filesystem::path& dir) {
  std::map<std::string, std::vector<uint8_t>> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[entry.path().lexically_relative(dir).generic_string()] = read_bytes(entry.path());
  return files;
}

// What a folder holds, names only (for "nothing else was left behind").
inline std::vector<std::string> folder_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace websd::test
