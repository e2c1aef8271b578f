#include "pipeline/prompt_encoder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/loader_test_util.h"
#include "support/fixtures.h"

namespace websd {
namespace {

// The prompt behind te_input_ids / te2_input_ids in both components.safetensors files.
constexpr const char* kCatPrompt = "a photo of a cat";

PromptEncoder::TextStage stage(Backend& be, const std::string& model, const std::string& suffix = "") {
  const std::string dir = test::fixture(model + "/model/");
  return {ClipTokenizer::from_folder(dir + "tokenizer" + suffix), ClipTextModel::load(dir + "text_encoder" + suffix, be)};
}

PromptEncoder sd15(Backend& be) {
  std::vector<PromptEncoder::TextStage> stages;
  stages.push_back(stage(be, "tiny-sd15"));
  return PromptEncoder(be, std::move(stages));
}

PromptEncoder sdxl(Backend& be, bool force_zeros = true) {
  std::vector<PromptEncoder::TextStage> stages;
  stages.push_back(stage(be, "tiny-sdxl"));
  stages.push_back(stage(be, "tiny-sdxl", "_2"));
  return PromptEncoder(be, std::move(stages), force_zeros);
}

HostTensor weight(const std::string& file, const std::string& name) {
  return SafetensorsFile(test::fixture(file)).read(name);
}

// torch.nn.LayerNorm over the last dimension, in double.
HostTensor layer_norm(const HostTensor& x, const HostTensor& w, const HostTensor& b, double eps = 1e-5) {
  const size_t width = w.data.size();
  HostTensor out(x.shape);
  for (size_t row = 0; row < x.data.size() / width; ++row) {
    const float* in = x.data.data() + row * width;
    double mean = 0, var = 0;
    for (size_t i = 0; i < width; ++i) mean += in[i];
    mean /= static_cast<double>(width);
    for (size_t i = 0; i < width; ++i) var += (in[i] - mean) * (in[i] - mean);
    var /= static_cast<double>(width);
    for (size_t i = 0; i < width; ++i)
      out.data[row * width + i] = static_cast<float>((in[i] - mean) / std::sqrt(var + eps) * w.data[i] + b.data[i]);
  }
  return out;
}

// hidden_states[0]: token embedding + position embedding of each id, [1, L, width].
HostTensor embeddings(const std::string& weights_file, const std::string& prefix, const HostTensor& ids) {
  const HostTensor tokens = weight(weights_file, prefix + "embeddings.token_embedding.weight");
  const HostTensor positions = weight(weights_file, prefix + "embeddings.position_embedding.weight");
  const int64_t width = tokens.shape[1], length = ids.shape[1];
  HostTensor out({1, length, width});
  for (int64_t p = 0; p < length; ++p)
    for (int64_t c = 0; c < width; ++c)
      out.data[static_cast<size_t>(p * width + c)] =
          tokens.data[static_cast<size_t>(static_cast<int64_t>(ids.data[static_cast<size_t>(p)]) * width + c)] +
          positions.data[static_cast<size_t>(p * width + c)];
  return out;
}

std::vector<float> channels(const HostTensor& t, int64_t first, int64_t count) {
  const int64_t width = t.shape[2];
  std::vector<float> out;
  for (int64_t row = 0; row < t.shape[0] * t.shape[1]; ++row)
    out.insert(out.end(), t.data.begin() + row * width + first, t.data.begin() + row * width + first + count);
  return out;
}

TEST(PromptEncoder, Sd15IsTheLastHiddenState) {
  CpuBackend be;
  const PromptEmbeddings e = sd15(be).encode(kCatPrompt, 0);
  SafetensorsFile ref(test::fixture("tiny-sd15/components.safetensors"));
  EXPECT_TENSOR_MATCHES_DIFFUSERS(e.embeds, ref.read("te_last_hidden_state"), test::kReadmeComponentMaxAbs);
  EXPECT_FALSE(e.pooled.has_value());
}

// SD 2.x: the last hidden state too, of ids padded with "!" (tokenizer.json's pad token, id 0).
TEST(PromptEncoder, Sd2IsTheLastHiddenStateOfBangPaddedIds) {
  CpuBackend be;
  std::vector<PromptEncoder::TextStage> stages;
  stages.push_back(stage(be, "tiny-sd2"));
  const PromptEncoder enc(be, std::move(stages));
  SafetensorsFile ref(test::fixture("tiny-sd2/components.safetensors"));
  const HostTensor ids = ref.read("te_input_ids");
  EXPECT_EQ(ClipTokenizer::from_folder(test::fixture("tiny-sd2/model/tokenizer")).encode(kCatPrompt),
            std::vector<int>(ids.data.begin(), ids.data.end()));
  const PromptEmbeddings e = enc.encode(kCatPrompt, 0);
  EXPECT_TENSOR_MATCHES_DIFFUSERS(e.embeds, ref.read("te_last_hidden_state"), test::kReadmeComponentMaxAbs);
  EXPECT_FALSE(e.pooled.has_value());
}

// diffusers' SD clip_skip=1: hidden_states[-2] through text_model.final_layer_norm; checked against
// transformers' penultimate state normalised by hand with the checkpoint's LayerNorm.
TEST(PromptEncoder, Sd15ClipSkipNormalisesAnEarlierState) {
  CpuBackend be;
  const PromptEncoder enc = sd15(be);
  const std::string file = "tiny-sd15/model/text_encoder/model.safetensors";
  const HostTensor penultimate = SafetensorsFile(test::fixture("tiny-sd15/components.safetensors")).read("te_penultimate_hidden_state");
  const HostTensor want = layer_norm(penultimate, weight(file, "final_layer_norm.weight"), weight(file, "final_layer_norm.bias"));
  const PromptEmbeddings skip1 = enc.encode(kCatPrompt, 1);
  EXPECT_TENSOR_MATCHES_DIFFUSERS(skip1.embeds, want, test::kReadmeComponentMaxAbs);
  EXPECT_GT(test::compare(skip1.embeds.data, enc.encode(kCatPrompt, 0).embeds.data).max_abs, 0.1);

  // The tiny encoder has 2 layers: clip_skip 2 normalises the embeddings, 3 is out of range.
  const HostTensor ids = SafetensorsFile(test::fixture("tiny-sd15/components.safetensors")).read("te_input_ids");
  const HostTensor emb = embeddings(file, "", ids);
  EXPECT_TENSOR_NEAR(enc.encode(kCatPrompt, 2).embeds,
                     layer_norm(emb, weight(file, "final_layer_norm.weight"), weight(file, "final_layer_norm.bias")), 1e-4);
  EXPECT_EQ(enc.max_clip_skip(), 2);
  test::expect_error_naming([&] { enc.encode(kCatPrompt, 3); }, {"clip skip 3", "0 to 2"});
  test::expect_error_naming([&] { enc.encode(kCatPrompt, -1); }, {"clip skip -1"});
}

// SDXL: both encoders' penultimate states side by side; pooled: the second's text_embeds.
TEST(PromptEncoder, SdxlConcatenatesPenultimateStatesAndPoolsTheSecond) {
  CpuBackend be;
  const PromptEmbeddings e = sdxl(be).encode(kCatPrompt, 0);
  SafetensorsFile ref(test::fixture("tiny-sdxl/components.safetensors"));
  ASSERT_EQ(e.embeds.shape, (Shape{1, 77, 96}));
  const test::Diff first = test::compare(channels(e.embeds, 0, 32), ref.read("te_penultimate_hidden_state").data);
  const test::Diff second = test::compare(channels(e.embeds, 32, 64), ref.read("te2_penultimate_hidden_state").data);
  EXPECT_DIFF_MATCHES_DIFFUSERS(first, test::kReadmeComponentMaxAbs);
  EXPECT_DIFF_MATCHES_DIFFUSERS(second, test::kReadmeComponentMaxAbs);
  ASSERT_TRUE(e.pooled.has_value());
  EXPECT_TENSOR_MATCHES_DIFFUSERS(*e.pooled, ref.read("te2_text_embeds"), test::kReadmeComponentMaxAbs);
}

// SDXL clip_skip k: hidden_states[-(k+2)], no final LayerNorm. With 2 layers, k = 1 is the
// embeddings themselves, which a hand computation gives exactly; the pooled embeddings stay.
TEST(PromptEncoder, SdxlClipSkipTakesEarlierStatesWithoutNorm) {
  CpuBackend be;
  const PromptEncoder enc = sdxl(be);
  SafetensorsFile ref(test::fixture("tiny-sdxl/components.safetensors"));
  const PromptEmbeddings skip1 = enc.encode(kCatPrompt, 1);
  const HostTensor first = embeddings("tiny-sdxl/model/text_encoder/model.safetensors", "", ref.read("te_input_ids"));
  const HostTensor second =
      embeddings("tiny-sdxl/model/text_encoder_2/model.safetensors", "text_model.", ref.read("te2_input_ids"));
  EXPECT_LE(test::compare(channels(skip1.embeds, 0, 32), first.data).max_abs, 1e-6);
  EXPECT_LE(test::compare(channels(skip1.embeds, 32, 64), second.data).max_abs, 1e-6);
  ASSERT_TRUE(skip1.pooled.has_value());
  EXPECT_EQ(skip1.pooled->data, enc.encode(kCatPrompt, 0).pooled->data);
  EXPECT_EQ(enc.max_clip_skip(), 1);
  test::expect_error_naming([&] { enc.encode(kCatPrompt, 2); }, {"clip skip 2", "0 to 1"});
}

// Omitted negative prompt (diffusers' None): zeros under force_zeros_for_empty_prompt, else "" is
// encoded; an explicit "" is always encoded. clip_skip never reaches the negative prompt.
TEST(PromptEncoder, NegativePromptFollowsForceZeros) {
  CpuBackend be;
  const PromptEncoder zeros = sdxl(be, true), encoded = sdxl(be, false);
  const PromptEmbeddings positive = zeros.encode(kCatPrompt, 1);
  const PromptEmbeddings none = zeros.encode_negative(std::nullopt, positive);
  EXPECT_EQ(none.embeds.shape, positive.embeds.shape);
  EXPECT_EQ(none.embeds.data, std::vector<float>(none.embeds.data.size(), 0.0f));
  ASSERT_TRUE(none.pooled.has_value());
  EXPECT_EQ(none.pooled->data, std::vector<float>(positive.pooled->data.size(), 0.0f));

  const PromptEmbeddings explicit_empty = zeros.encode_negative(std::string(), positive);
  EXPECT_EQ(explicit_empty.embeds.data, zeros.encode("", 0).embeds.data);
  EXPECT_EQ(explicit_empty.pooled->data, zeros.encode("", 0).pooled->data);
  EXPECT_EQ(encoded.encode_negative(std::nullopt, positive).embeds.data, explicit_empty.embeds.data);
  EXPECT_NE(zeros.encode(kCatPrompt, 0).embeds.data, explicit_empty.embeds.data);

  const PromptEncoder sd = sd15(be);
  EXPECT_EQ(sd.encode_negative(std::nullopt, sd.encode(kCatPrompt, 2)).embeds.data, sd.encode("", 0).embeds.data);
}

TEST(PromptEncoder, SecondEncoderMustHaveAProjection) {
  CpuBackend be;
  std::vector<PromptEncoder::TextStage> stages;
  stages.push_back(stage(be, "tiny-sdxl"));
  stages.push_back(stage(be, "tiny-sdxl"));
  test::expect_error_naming([&] { PromptEncoder(be, std::move(stages)); }, {"CLIPTextModelWithProjection"});
}

}  // namespace
}  // namespace websd
