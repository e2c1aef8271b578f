#include <cmath>

#include "io/config.h"
#include "models/vae.h"

namespace websd {

AutoencoderKLConfig AutoencoderKLConfig::load(const std::string& config_json) {
  return parse(ConfigReader::load(config_json));
}

AutoencoderKLConfig AutoencoderKLConfig::parse(ConfigReader r) {
  AutoencoderKLConfig c;

  c.in_channels = r.get_positive_int("in_channels", c.in_channels);
  c.out_channels = r.get_positive_int("out_channels", c.out_channels);
  c.latent_channels = r.get_positive_int("latent_channels", c.latent_channels);
  c.layers_per_block = r.get_positive_int("layers_per_block", c.layers_per_block);
  c.norm_num_groups = r.get_positive_int("norm_num_groups", c.norm_num_groups);
  c.block_out_channels = r.get_int_list("block_out_channels", c.block_out_channels);
  if (c.block_out_channels.empty()) r.fail("block_out_channels", "needs at least one entry");
  for (int ch : c.block_out_channels) {
    if (ch <= 0) r.fail("block_out_channels", "entries must be positive");
    if (ch % c.norm_num_groups != 0) r.fail("norm_num_groups", "must divide every entry of block_out_channels");
  }

  const size_t blocks = c.block_out_channels.size();
  for (auto [key, type] :
       {std::pair{"down_block_types", "DownEncoderBlock2D"}, std::pair{"up_block_types", "UpDecoderBlock2D"}}) {
    const std::vector<std::string> types = r.get_string_list(key, std::vector<std::string>(blocks, type));
    if (types.size() != blocks)
      r.fail(key, "needs one entry per block_out_channels entry (" + std::to_string(blocks) + ")");
    for (const std::string& t : types)
      if (t != type) r.fail(key, std::string("not supported by websd (supported: \"") + type + "\" blocks only)");
  }
  r.expect("act_fn", {"silu"});

  c.scaling_factor = static_cast<float>(r.get_double("scaling_factor", c.scaling_factor));
  // NaN stands for null: JSON cannot hold a NaN.
  const double shift = r.get_double("shift_factor", std::nan(""));
  if (!std::isnan(shift)) c.shift_factor = static_cast<float>(shift);
  // Per-channel latent statistics change how pipelines scale latents; none of the supported
  // pipelines defines that, so only their absence is accepted.
  r.expect("latents_mean", {});
  r.expect("latents_std", {});
  c.use_quant_conv = r.get_bool("use_quant_conv", c.use_quant_conv);
  c.use_post_quant_conv = r.get_bool("use_post_quant_conv", c.use_post_quant_conv);
  c.mid_block_add_attention = r.get_bool("mid_block_add_attention", c.mid_block_add_attention);

  // The training resolution: diffusers' tiled decode uses tiles of this many pixels.
  const std::vector<int> sample = r.get_int_list("sample_size", {c.sample_size});
  if (sample.empty() || sample.size() > 2 || sample[0] <= 0)
    r.fail("sample_size", "expected a positive integer or [height, width]");
  c.sample_size = sample[0];
  // force_upcast guards float16 overflow (websd's VAE computes in float32).
  r.ignore({"force_upcast"});
  r.finish();
  return c;
}

}  // namespace websd
