// A file that is not an SD 1.x / SDXL single-file checkpoint gets one error saying what it is.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backend/cpu/cpu_backend.h"
#include "io/config.h"
#include "models/autoencoder_kl.h"
#include "models/single_file/checkpoint.h"
#include "models/single_file/config_sizes.h"
#include "support/fixtures.h"

namespace websd {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("websd_single_" + std::to_string(getpid()) + "_" + name)).string();
}

// A safetensors file holding a [1] tensor under each name.
std::string names_file(const std::string& file, std::initializer_list<std::string> names) {
  std::map<std::string, HostTensor> tensors;
  for (const std::string& n : names) tensors[n] = HostTensor({1});
  const std::string path = temp_path(file);
  write_safetensors(path, tensors);
  return path;
}

std::string bytes_file(const std::string& file, const std::string& bytes) {
  const std::string path = temp_path(file);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string open_error(const std::string& path) {
  try {
    SingleFileCheckpoint::open(path);
  } catch (const Error& e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  return "no error";
}

void expect_contains(const std::string& message, std::initializer_list<const char*> parts) {
  for (const char* p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

TEST(SingleFileErrors, PickleCheckpointsAreRefusedWithTheWayToConvert) {
  // By extension, whatever the content, and by content (torch.save's zip, a bare pickle) whatever the name.
  for (const auto& [name, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"model.ckpt", "PK\x03\x04 not read"},
                                                        {"model.bin", "anything"},
                                                        {"model.pt", ""},
                                                        {"zip.safetensors", std::string("PK\x03\x04\x14\0\0\0\0\0", 10)},
                                                        {"pickle.safetensors", std::string("\x80\x02}q\0(X\x05\0\0\0", 12)}}) {
    SCOPED_TRACE(name);
    const std::string message = open_error(bytes_file(name, bytes));
    expect_contains(message, {name.c_str(), "pickle", "runs any Python code", "safetensors", "torch.load", "save_file",
                              "convert_original_stable_diffusion_to_diffusers.py"});
  }
}

TEST(SingleFileErrors, NotASafetensorsFile) {
  expect_contains(open_error(bytes_file("garbage.safetensors", "hello, this is text")), {"garbage.safetensors", "safetensors"});
}

TEST(SingleFileErrors, OtherKindsOfFilesAreNamed) {
  expect_contains(open_error(names_file("unet.safetensors", {"conv_in.weight", "down_blocks.0.resnets.0.conv1.weight"})),
                  {"unet.safetensors", "one component of a diffusers folder"});
  expect_contains(open_error(names_file("lora.safetensors", {"lora_unet_down_blocks_0.alpha"})), {"a LoRA"});
  expect_contains(open_error(names_file("vae.safetensors", {"encoder.down.0.block.0.conv1.weight"})), {"a VAE on its own"});
  expect_contains(open_error(names_file("sd2.safetensors", {"model.diffusion_model.out.0.weight", "first_stage_model.x",
                                                            "cond_stage_model.model.ln_final.weight"})),
                  {"SD 2.x", "SD 1.x and SDXL"});
  expect_contains(open_error(names_file("refiner.safetensors", {"model.diffusion_model.out.0.weight", "first_stage_model.x",
                                                                "conditioner.embedders.0.model.ln_final.weight"})),
                  {"SDXL refiner"});
  expect_contains(open_error(names_file("other.safetensors", {"weight"})),
                  {"other.safetensors", "no original-layout SD 1.x / SDXL checkpoint"});
}

TEST(SingleFileErrors, FamiliesMustAgree) {
  expect_contains(open_error(names_file("mixed.safetensors", {"model.diffusion_model.out.0.weight", "first_stage_model.x",
                                                              "conditioner.embedders.1.model.ln_final.weight"})),
                  {"mixed.safetensors", "SDXL text encoders", "label_emb"});
  expect_contains(open_error(names_file("mixed1.safetensors", {"model.diffusion_model.label_emb.0.0.weight", "first_stage_model.x",
                                                               "cond_stage_model.transformer.x"})),
                  {"SD 1.x text encoder", "label_emb"});
}

TEST(SingleFileErrors, AnUnknownTensorIsNamed) {
  expect_contains(open_error(names_file("unknown.safetensors",
                                        {"model.diffusion_model.out.0.weight", "model.diffusion_model.extra_head.weight",
                                         "first_stage_model.encoder.conv_in.weight", "cond_stage_model.transformer.x"})),
                  {"unknown.safetensors", "unet (model.diffusion_model.*)", "'extra_head.weight'"});
  expect_contains(open_error(names_file("unknown_vae.safetensors",
                                        {"model.diffusion_model.out.0.weight", "first_stage_model.decoder.mid.attn_1.qkv.weight",
                                         "cond_stage_model.transformer.x"})),
                  {"vae (first_stage_model.*)", "'decoder.mid.attn_1.qkv.weight'"});
}

// A config that does not match the weights names the diffusers tensor and the stored one.
TEST(SingleFileErrors, ShapeMismatchNamesTheStoredTensor) {
  const SingleFileCheckpoint ck = SingleFileCheckpoint::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"));
  nlohmann::json config = read_json_file(test::fixture("tiny-sd15/model/vae/config.json"));
  config["block_out_channels"] = {32, 64, 64, 128};
  CpuBackend backend;
  try {
    AutoencoderKL::build(AutoencoderKLConfig::parse(ConfigReader(config, "vae/config.json")), ck.weights("vae", backend));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {"tiny-sd15-single.safetensors (vae)", "stored as 'first_stage_model."});
  }
}

// Attention heads leave no trace in the weights: a fixed head count carries over, a fixed head
// width gives the count for the new width, and a width it does not divide is an error.
TEST(SingleFileSizes, AttentionHeadsFollowTheStandardRule) {
  const nlohmann::json sd15 = read_json_file(test::asset("configs/sd15/unet/config.json"));
  const nlohmann::json sdxl = read_json_file(test::asset("configs/sdxl/unet/config.json"));
  const nlohmann::json clip = read_json_file(test::asset("configs/sdxl/text_encoder_2/config.json"));
  const nlohmann::json same_sizes = {{"block_out_channels", {320, 640, 1280}}};
  EXPECT_EQ(single_file::sized_unet_config(sdxl, same_sizes, "x")["attention_head_dim"], nlohmann::json({5, 10, 20}));
  EXPECT_EQ(single_file::sized_unet_config(sdxl, {{"block_out_channels", {128, 256, 512}}}, "x")["attention_head_dim"],
            nlohmann::json({2, 4, 8}));
  EXPECT_EQ(single_file::sized_unet_config(sd15, {{"block_out_channels", {32, 64, 64, 64}}}, "x")["attention_head_dim"], 8);
  EXPECT_EQ(single_file::sized_clip_config(clip, {{"hidden_size", 1280}}, "x")["num_attention_heads"], 20);
  EXPECT_EQ(single_file::sized_clip_config(clip, {{"hidden_size", 768}}, "x")["num_attention_heads"], 12);
  try {
    single_file::sized_clip_config(clip, {{"hidden_size", 32}}, "model.safetensors (text_encoder_2)");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {"model.safetensors (text_encoder_2)", "32 channels", "64-channel", "--config"});
  }
  EXPECT_THROW(single_file::sized_unet_config(sdxl, {{"block_out_channels", {320, 640, 1000}}}, "x"), Error);
}

// Found with tests/fuzz/single_file_fuzzer.cpp: a safetensors header may give any size beside a 0
// (no bytes to store), and 1,000,000,000 channels overflowed the UNet's time embedding width
// (4 × channels, undefined behaviour). Sizes no Stable Diffusion weight has are refused by name.
TEST(SingleFileSizes, RefusesSizesNoModelHas) {
  const SingleFileCheckpoint ck = SingleFileCheckpoint::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"));
  single_file::DiffusersTensors unet = ck.tensors("unet");
  unet.at("down_blocks.0.resnets.0.conv1.weight").shape = {1000000000, 0, 3, 3};
  try {
    single_file::unet_sizes(unet);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {"tensor 'down_blocks.0.resnets.0.conv1.weight' has shape [1000000000, 0, 3, 3]",
                               "larger than any Stable Diffusion weight's"});
  }
}

}  // namespace
}  // namespace websd
