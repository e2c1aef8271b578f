#include "models/unet_config.h"

#include "io/config.h"

namespace websd {

namespace {

// No Stable Diffusion UNet comes near 2^20 channels or resnets a block; larger values are a broken or
// hostile file, and refusing them keeps 4 × channels and the per-resnet lists small.
constexpr int kMaxSize = 1 << 20;

// One block's transformer depth: an int for all its resnets, or one entry per resnet.
std::vector<int> per_resnet(const ConfigReader& r, const std::string& key, const nlohmann::json& v, int resnets) {
  std::vector<int> out;
  if (v.is_number_integer()) out.assign(static_cast<size_t>(resnets), v.get<int>());
  if (v.is_array() && v.size() == static_cast<size_t>(resnets))
    for (const auto& e : v)
      if (e.is_number_integer()) out.push_back(e.get<int>());
  if (out.size() != static_cast<size_t>(resnets))
    r.fail(key, "expected per block an integer or a list of " + std::to_string(resnets) + " integers (one per resnet)");
  for (int layers : out)
    if (layers < 1) r.fail(key, "transformer depths must be at least 1");
  return out;
}

nlohmann::json field(const ConfigReader& r, const char* key) {
  auto it = r.json().find(key);
  return it == r.json().end() ? nlohmann::json() : *it;
}

// Whether each of the n blocks has attention, from a block type list.
std::vector<bool> block_types(ConfigReader& r, const char* key, size_t n, const std::vector<std::string>& fallback,
                              const std::string& with_attention, const std::string& plain) {
  const std::vector<std::string> types = r.get_string_list(key, fallback);
  if (types.size() != n)
    r.fail(key, "expected one block type per block_out_channels entry (" + std::to_string(n) + ")");
  std::vector<bool> attention;
  for (const std::string& t : types) {
    if (t != with_attention && t != plain)
      r.fail(key, "block type '" + t + "' is not supported (supported: " + with_attention + ", " + plain + ")");
    attention.push_back(t == with_attention);
  }
  return attention;
}

int odd_kernel(ConfigReader& r, const char* key) {
  const int k = r.get_int(key, 3);
  if (k < 1 || k % 2 == 0) r.fail(key, "expected an odd kernel size");
  return k;
}

void parse_transformer_layers(ConfigReader& r, UNetConfig& c) {
  const char* key = "transformer_layers_per_block";
  const char* reverse_key = "reverse_transformer_layers_per_block";
  r.ignore({key, reverse_key});
  const size_t n = c.block_out_channels.size();
  nlohmann::json down = field(r, key);
  if (down.is_null()) down = 1;
  if (down.is_array() && down.size() != n) r.fail(key, "expected one entry per block (" + std::to_string(n) + ")");
  auto entry = [](const nlohmann::json& v, size_t i) { return v.is_array() ? v[i] : v; };
  bool per_resnet_lists = false;
  for (size_t i = 0; i < n; ++i) {
    per_resnet_lists |= entry(down, i).is_array();
    c.down_transformer_layers.push_back(per_resnet(r, key, entry(down, i), c.layers_per_block[i]));
  }
  // diffusers gives the single-resnet mid block the first depth of the deepest level.
  c.mid_transformer_layers = c.down_transformer_layers.back().front();

  const nlohmann::json reverse = field(r, reverse_key);
  if (reverse.is_null() && per_resnet_lists)
    r.fail(reverse_key, "must be given when transformer_layers_per_block has per-resnet lists (an asymmetric UNet)");
  if (!reverse.is_null() && !(reverse.is_array() && reverse.size() == n))
    r.fail(reverse_key, "expected a list with one entry per up block (" + std::to_string(n) + ")");
  for (size_t i = 0; i < n; ++i) {
    const size_t level = n - 1 - i;
    const int resnets = c.layers_per_block[level] + 1;
    c.up_transformer_layers.push_back(reverse.is_null() ? per_resnet(r, key, entry(down, level), resnets)
                                                        : per_resnet(r, reverse_key, reverse[i], resnets));
  }
}

}  // namespace

UNetConfig UNetConfig::load(const std::string& config_json) { return parse(ConfigReader::load(config_json)); }

UNetConfig UNetConfig::parse(ConfigReader r) {
  const nlohmann::json class_name = field(r, "_class_name");
  if (!class_name.is_null() && class_name != "UNet2DConditionModel")
    r.fail("_class_name", "websd reads UNet2DConditionModel configs only");
  UNetConfig c;
  c.in_channels = r.get_int("in_channels", 4);
  c.out_channels = r.get_int("out_channels", 4);
  const std::vector<int> sample = r.get_int_list("sample_size", {64});
  if (sample.empty() || sample.size() > 2) r.fail("sample_size", "expected an integer or [height, width]");
  c.sample_height = sample.front();
  c.sample_width = sample.back();

  c.block_out_channels = r.get_int_list("block_out_channels", {320, 640, 1280, 1280});
  const size_t n = c.block_out_channels.size();
  if (n == 0) r.fail("block_out_channels", "expected at least one block");
  for (int channels : c.block_out_channels)
    if (channels < 1 || channels > kMaxSize) r.fail("block_out_channels", "expected sizes from 1 to 2^20");
  const std::string down = "CrossAttnDownBlock2D", up = "CrossAttnUpBlock2D";
  c.down_attention = block_types(r, "down_block_types", n, {down, down, down, "DownBlock2D"}, down, "DownBlock2D");
  c.up_attention = block_types(r, "up_block_types", n, {"UpBlock2D", up, up, up}, up, "UpBlock2D");
  if (r.json().contains("mid_block_type") && !r.has("mid_block_type"))
    r.fail("mid_block_type", "a UNet without a mid block is not supported (supported: \"UNetMidBlock2DCrossAttn\")");
  r.expect("mid_block_type", {"UNetMidBlock2DCrossAttn"});

  c.layers_per_block = r.get_int_list("layers_per_block", {2}, n);
  for (int layers : c.layers_per_block)
    if (layers < 1 || layers > kMaxSize) r.fail("layers_per_block", "every block needs from 1 to 2^20 resnets");
  const std::vector<int> head_dim = r.get_int_list("attention_head_dim", {8}, n);
  const char* heads_key = r.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
  c.attention_heads = r.get_int_list("num_attention_heads", head_dim, n);
  c.cross_attention_dim = r.get_int_list("cross_attention_dim", {1280}, n);
  c.use_linear_projection = r.get_bool("use_linear_projection", false);
  parse_transformer_layers(r, c);

  if (r.json().contains("norm_num_groups") && !r.has("norm_num_groups"))
    r.fail("norm_num_groups", "a UNet without GroupNorm is not supported");
  c.norm_num_groups = r.get_int("norm_num_groups", 32);
  c.norm_eps = static_cast<float>(r.get_double("norm_eps", 1e-5));
  c.conv_in_kernel = odd_kernel(r, "conv_in_kernel");
  c.conv_out_kernel = odd_kernel(r, "conv_out_kernel");
  c.downsample_padding = r.get_int("downsample_padding", 1);
  if (c.downsample_padding < 0) r.fail("downsample_padding", "expected 0 or more");
  c.mid_block_scale_factor = static_cast<float>(r.get_double("mid_block_scale_factor", 1.0));
  if (c.mid_block_scale_factor == 0)
    r.fail("mid_block_scale_factor", "must not be 0 (resnet outputs are divided by it)");

  c.flip_sin_to_cos = r.get_bool("flip_sin_to_cos", true);
  c.freq_shift = static_cast<float>(r.get_double("freq_shift", 0));
  c.time_embed_dim = r.get_int("time_embedding_dim", 4 * c.block_out_channels[0]);
  if (c.time_embed_dim < 1) r.fail("time_embedding_dim", "expected a positive size");

  const std::string addition = r.get_string("addition_embed_type", "");
  if (!addition.empty() && addition != "text_time")
    r.fail("addition_embed_type", "not supported by websd (supported: null, \"text_time\")");
  c.text_time = addition == "text_time";
  c.addition_time_embed_dim = r.get_int("addition_time_embed_dim", 0);
  c.projection_class_embeddings_input_dim = r.get_int("projection_class_embeddings_input_dim", 0);
  if (c.text_time && c.addition_time_embed_dim < 1)
    r.fail("addition_time_embed_dim", "addition_embed_type \"text_time\" needs a positive size here");
  if (c.text_time && c.projection_class_embeddings_input_dim < 1)
    r.fail("projection_class_embeddings_input_dim", "addition_embed_type \"text_time\" needs a positive size here");

  const nlohmann::json only_cross = field(r, "only_cross_attention");
  r.ignore({"only_cross_attention"});
  bool any_only_cross = only_cross == true;
  if (only_cross.is_array())
    for (const auto& e : only_cross) any_only_cross |= e != false;
  if (any_only_cross) r.fail("only_cross_attention", "not supported by websd (supported: false)");

  r.expect("act_fn", {"silu"});
  r.expect("center_input_sample", {false});
  r.expect("dual_cross_attention", {false});
  r.expect("class_embed_type", {});
  r.expect("num_class_embeds", {});
  r.expect("class_embeddings_concat", {false});
  r.expect("encoder_hid_dim", {});
  r.expect("encoder_hid_dim_type", {});
  r.expect("resnet_time_scale_shift", {"default"});
  r.expect("time_embedding_type", {"positional"});
  r.expect("time_embedding_act_fn", {});
  r.expect("timestep_post_act", {});
  r.expect("time_cond_proj_dim", {});
  r.expect("attention_type", {"default"});
  // dropout only acts in training; upcast_attention asks for float32 attention, which websd's
  // float32 path always is. The rest configure block types websd rejects above
  // (SimpleCrossAttn*, ResnetDownsample/UpsampleBlock2D) or the "text" addition type.
  r.ignore({"dropout", "upcast_attention", "resnet_skip_time_act", "resnet_out_scale_factor", "cross_attention_norm",
            "mid_block_only_cross_attention", "addition_embed_type_num_heads"});
  r.finish();

  for (size_t i = 0; i < n; ++i) {
    const int channels = c.block_out_channels[i];
    if (channels < 1) r.fail("block_out_channels", "expected positive channel counts");
    if (c.norm_num_groups < 1 || channels % c.norm_num_groups != 0)
      r.fail("norm_num_groups", "must divide every block_out_channels entry");
    const int heads = c.attention_heads[i];
    if ((c.down_attention[i] || c.up_attention[n - 1 - i]) && (heads < 1 || heads > channels))
      r.fail(heads_key, "block " + std::to_string(i) + " has " + std::to_string(channels) +
                            " channels, which cannot be split into " + std::to_string(heads) + " attention heads");
  }
  return c;
}

}  // namespace websd
