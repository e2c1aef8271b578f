#include "models/clip_text_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "models/loader_test_util.h"
#include "support/fixtures.h"

namespace websd {
namespace {

constexpr int kBos = 49406, kEos = 49407;

std::string sd15_dir() { return test::fixture("tiny-sd15/model/text_encoder"); }

HostTensor reference(const std::string& name) {
  return SafetensorsFile(test::fixture("tiny-sd15/components.safetensors")).read(name);
}

std::vector<int> reference_ids() {
  const HostTensor ids = reference("te_input_ids");
  return std::vector<int>(ids.data.begin(), ids.data.end());
}

// Row b of a [batch, ...] tensor, keeping a leading dimension of 1.
HostTensor row(const HostTensor& t, int64_t b) {
  Shape shape = t.shape;
  shape[0] = 1;
  const int64_t n = numel(shape);
  return HostTensor(shape, std::vector<float>(t.data.begin() + b * n, t.data.begin() + (b + 1) * n));
}

std::vector<float> state_at(const HostTensor& states, int64_t b, int64_t position) {
  const int64_t length = states.shape[1], width = states.shape[2];
  auto first = states.data.begin() + (b * length + position) * width;
  return std::vector<float>(first, first + width);
}

TEST(ClipTextModel, MatchesTransformersOnTinySd15) {
  CpuBackend be;
  const ClipTextModel model = ClipTextModel::load(sd15_dir(), be);
  // The reference prompt is the second row, after a different one, so rows must stay independent.
  std::vector<int> ids(77, kEos);
  ids[0] = kBos;
  ids[1] = 320;
  ids[2] = 1929;
  const std::vector<int> ref_ids = reference_ids();
  ids.insert(ids.end(), ref_ids.begin(), ref_ids.end());

  const ClipTextModel::Output out = model.forward(ids, 2);
  const HostTensor last = be.to_host(out.last_hidden_state);
  EXPECT_TENSOR_MATCHES_DIFFUSERS(row(last, 1), reference("te_last_hidden_state"), test::kReadmeComponentMaxAbs);
  EXPECT_TENSOR_MATCHES_DIFFUSERS(row(be.to_host(out.penultimate_hidden_state), 1),
                                  reference("te_penultimate_hidden_state"), test::kReadmeComponentMaxAbs);
  EXPECT_FALSE(out.text_embeds.has_value());

  // Pooled: the final state at each prompt's first end-of-text token.
  const HostTensor pooled = be.to_host(out.pooled);
  ASSERT_EQ(pooled.shape, (Shape{2, 32}));
  const int64_t eos_pos = std::find(ref_ids.begin(), ref_ids.end(), kEos) - ref_ids.begin();
  EXPECT_EQ(row(pooled, 0).data, state_at(last, 0, 3));
  EXPECT_EQ(row(pooled, 1).data, state_at(last, 1, eos_pos));
}

// hidden_states as transformers returns them: the embeddings, then each layer's output; the last
// one through the final LayerNorm is last_hidden_state.
TEST(ClipTextModel, HiddenStatesFollowTransformers) {
  CpuBackend be;
  const ClipTextModel model = ClipTextModel::load(sd15_dir(), be);
  const ClipTextModel::Output out = model.forward(reference_ids(), 1);
  ASSERT_EQ(out.hidden_states.size(), 3u);
  EXPECT_EQ(be.to_host(out.hidden_states[1]).data, be.to_host(out.penultimate_hidden_state).data);
  EXPECT_EQ(be.to_host(model.final_layer_norm(out.hidden_states[2])).data, be.to_host(out.last_hidden_state).data);
  EXPECT_EQ(out.hidden_states[0].shape, (Shape{1, 77, 32}));
  // Python's indexing, as diffusers writes hidden_states[-2].
  EXPECT_EQ(out.hidden_state(-1).buffer, out.hidden_states[2].buffer);
  EXPECT_EQ(out.hidden_state(-3).buffer, out.hidden_states[0].buffer);
  EXPECT_EQ(out.hidden_state(1).buffer, out.hidden_states[1].buffer);
  test::expect_error_naming([&] { out.hidden_state(-4); }, {"hidden state -4", "has 3"});
  test::expect_error_naming([&] { out.hidden_state(3); }, {"hidden state 3"});
}

// SDXL's two encoders: the first like SD 1.5's, the second with a projection and exact GELU, its
// tokenizer padding with "!" (id 0).
TEST(ClipTextModel, MatchesTransformersOnTinySdxlEncoders) {
  CpuBackend be;
  SafetensorsFile ref(test::fixture("tiny-sdxl/components.safetensors"));
  const auto ids = [&](const char* name) {
    const HostTensor t = ref.read(name);
    return std::vector<int>(t.data.begin(), t.data.end());
  };
  const auto check = [&](const char* name, const Tensor& got) {
    const HostTensor want = ref.read(name), host = be.to_host(got);
    std::cout << name << " max abs error " << test::compare(host.data, want.data).max_abs << "\n";
    EXPECT_TENSOR_MATCHES_DIFFUSERS(host, want, test::kReadmeComponentMaxAbs);
  };
  const ClipTextModel first = ClipTextModel::load(test::fixture("tiny-sdxl/model/text_encoder"), be);
  const ClipTextModel::Output a = first.forward(ids("te_input_ids"), 1);
  check("te_last_hidden_state", a.last_hidden_state);
  check("te_penultimate_hidden_state", a.penultimate_hidden_state);

  const ClipTextModel second = ClipTextModel::load(test::fixture("tiny-sdxl/model/text_encoder_2"), be);
  EXPECT_TRUE(second.config().with_projection);
  EXPECT_EQ(second.config().hidden_act, UnaryOp::GELU);
  const ClipTextModel::Output b = second.forward(ids("te2_input_ids"), 1);
  check("te2_penultimate_hidden_state", b.penultimate_hidden_state);
  ASSERT_TRUE(b.text_embeds.has_value());
  check("te2_text_embeds", *b.text_embeds);
}

// SD 2.x's text encoder (OpenCLIP ViT-H converted: exact GELU, no projection), its prompt padded
// with "!" (id 0) rather than end-of-text.
TEST(ClipTextModel, MatchesTransformersOnTinySd2) {
  CpuBackend be;
  SafetensorsFile ref(test::fixture("tiny-sd2/components.safetensors"));
  const ClipTextModel model = ClipTextModel::load(test::fixture("tiny-sd2/model/text_encoder"), be);
  EXPECT_EQ(model.config().hidden_act, UnaryOp::GELU);
  EXPECT_FALSE(model.config().with_projection);
  const HostTensor ids = ref.read("te_input_ids");
  ASSERT_EQ(ids.data.back(), 0.0f);
  const ClipTextModel::Output out = model.forward(std::vector<int>(ids.data.begin(), ids.data.end()), 1);
  for (const auto& [name, got] : {std::pair{"te_last_hidden_state", &out.last_hidden_state},
                                  std::pair{"te_penultimate_hidden_state", &out.penultimate_hidden_state}}) {
    SCOPED_TRACE(name);
    const HostTensor want = ref.read(name), host = be.to_host(*got);
    const test::Diff d = test::compare(host.data, want.data);
    std::cout << "tiny-sd2 " << name << " max abs error " << d.max_abs << ", mean " << d.mean_abs << "\n";
    EXPECT_TENSOR_MATCHES_DIFFUSERS(host, want, test::kReadmeComponentMaxAbs);
  }
}

// Older transformers (and CLIPTextModelWithProjection) save under "text_model." with the
// position_ids buffer; the projection is text_projection, without bias.
TEST(ClipTextModel, ProjectionWithPrefixedWeights) {
  test::TempComponent tmp(sd15_dir());
  tmp.config["architectures"] = {"CLIPTextModelWithProjection"};
  tmp.config["projection_dim"] = 16;
  HostTensor projection({16, 32});
  for (int i = 0; i < 16; ++i) projection.data[static_cast<size_t>(i * 32 + 2 * i)] = 1.0f;  // picks even channels
  const std::string dir = tmp.with_rewritten_weights("model.safetensors", [&](auto& tensors) {
    std::map<std::string, HostTensor> prefixed;
    for (auto& [name, t] : tensors) prefixed["text_model." + name] = std::move(t);
    HostTensor position_ids({1, 77});
    for (int i = 0; i < 77; ++i) position_ids.data[static_cast<size_t>(i)] = static_cast<float>(i);
    prefixed["text_model.embeddings.position_ids"] = position_ids;
    prefixed["text_projection.weight"] = projection;
    tensors = std::move(prefixed);
  });

  CpuBackend be;
  const ClipTextModel model = ClipTextModel::load(dir, be);
  EXPECT_TRUE(model.config().with_projection);
  const ClipTextModel::Output out = model.forward(reference_ids(), 1);
  EXPECT_TENSOR_MATCHES_DIFFUSERS(be.to_host(out.last_hidden_state), reference("te_last_hidden_state"),
                                  test::kReadmeComponentMaxAbs);
  ASSERT_TRUE(out.text_embeds.has_value());
  const HostTensor pooled = be.to_host(out.pooled), embeds = be.to_host(*out.text_embeds);
  ASSERT_EQ(embeds.shape, (Shape{1, 16}));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(embeds.data[static_cast<size_t>(i)], pooled.data[static_cast<size_t>(2 * i)]);
}

// Configs from before transformers knew CLIP's end-of-text id (eos_token_id 2) pool at the largest id.
TEST(ClipTextModel, LegacyEosPoolsAtLargestId) {
  test::TempComponent tmp(sd15_dir());
  tmp.config["eos_token_id"] = 2;
  CpuBackend be;
  const ClipTextModel model = ClipTextModel::load(tmp.with_original_weights(), be);
  std::vector<int> ids(77, 0);
  ids[1] = 300;
  ids[2] = 49000;
  ids[3] = 2;
  const ClipTextModel::Output out = model.forward(ids, 1);
  EXPECT_EQ(be.to_host(out.pooled).data, state_at(be.to_host(out.last_hidden_state), 0, 2));
}

TEST(ClipTextModel, RunsTinyShapes) {
  CpuBackend be;
  const ClipTextModel model = ClipTextModel::load(test::asset("tiny-shapes/model/text_encoder"), be);
  EXPECT_EQ(model.config().num_hidden_layers, 3);
  EXPECT_EQ(model.config().hidden_act, UnaryOp::QuickGELU);
  for (int length : {77, 10}) {
    std::vector<int> ids(static_cast<size_t>(2 * length), kEos);
    ids[0] = ids[static_cast<size_t>(length)] = kBos;
    ids[1] = 1929;
    const ClipTextModel::Output out = model.forward(ids, 2);
    for (const Tensor* t : {&out.last_hidden_state, &out.penultimate_hidden_state}) {
      const HostTensor h = be.to_host(*t);
      EXPECT_EQ(h.shape, (Shape{2, length, 32}));
      EXPECT_TRUE(std::all_of(h.data.begin(), h.data.end(), [](float v) { return std::isfinite(v); }));
    }
    EXPECT_EQ(out.pooled.shape, (Shape{2, 32}));
  }
}

TEST(ClipTextModel, RejectsBadInput) {
  CpuBackend be;
  const ClipTextModel model = ClipTextModel::load(sd15_dir(), be);
  std::vector<int> ids = reference_ids();
  EXPECT_THROW(model.forward(ids, 2), Error);  // 77 ids are not two rows
  ids[5] = 49408;
  test::expect_error_naming([&] { model.forward(ids, 1); }, {"49408", "vocab_size"});
  test::expect_error_naming([&] { model.forward(std::vector<int>(78, kEos), 1); }, {"max_position_embeddings"});
}

struct BadConfig {
  const char* field;
  nlohmann::json value;
};

class ClipTextModelBadConfig : public testing::TestWithParam<BadConfig> {};

TEST_P(ClipTextModelBadConfig, NamesFileAndField) {
  test::TempComponent tmp(sd15_dir());
  tmp.config[GetParam().field] = GetParam().value;
  const std::string dir = tmp.with_original_weights();
  CpuBackend be;
  test::expect_error_naming([&] { ClipTextModel::load(dir, be); }, {dir + "/config.json", GetParam().field});
}

INSTANTIATE_TEST_SUITE_P(Fields, ClipTextModelBadConfig,
                         testing::Values(BadConfig{"hidden_act", "gelu_new"}, BadConfig{"rope_theta", 10000.0},
                                         BadConfig{"architectures", {"CLIPVisionModel"}},
                                         BadConfig{"model_type", "clip"}, BadConfig{"num_attention_heads", 5},
                                         BadConfig{"vocab_size", 0},
                                         BadConfig{"hidden_size", "32"}));

TEST(ClipTextModel, WeightsThatDisagreeWithConfig) {
  CpuBackend be;
  {
    test::TempComponent tmp(sd15_dir());
    tmp.config["intermediate_size"] = 128;
    const std::string dir = tmp.with_original_weights();
    test::expect_error_naming([&] { ClipTextModel::load(dir, be); },
                              {dir + "/model.safetensors", "encoder.layers.0.mlp.fc1.weight", "[64, 32]", "[128, 32]"});
  }
  {
    test::TempComponent tmp(sd15_dir());
    tmp.config["num_hidden_layers"] = 1;
    const std::string dir = tmp.with_original_weights();
    test::expect_error_naming([&] { ClipTextModel::load(dir, be); }, {dir + "/model.safetensors", "encoder.layers.1."});
  }
}

}  // namespace
}  // namespace websd
