#include "io/config.h"
#include "models/clip_text_model.h"

namespace websd {

ClipTextConfig ClipTextConfig::load(const std::string& config_json) { return parse(ConfigReader::load(config_json)); }

ClipTextConfig ClipTextConfig::parse(ConfigReader r) {
  ClipTextConfig c;

  const std::vector<std::string> arch = r.get_string_list("architectures", {"CLIPTextModel"});
  if (arch == std::vector<std::string>{"CLIPTextModelWithProjection"})
    c.with_projection = true;
  else if (arch != std::vector<std::string>{"CLIPTextModel"})
    r.fail("architectures", "websd runs [\"CLIPTextModel\"] or [\"CLIPTextModelWithProjection\"]");
  r.expect("model_type", {"clip_text_model"});

  c.vocab_size = r.get_positive_int("vocab_size", c.vocab_size);
  c.hidden_size = r.get_positive_int("hidden_size", c.hidden_size);
  c.intermediate_size = r.get_positive_int("intermediate_size", c.intermediate_size);
  c.projection_dim = r.get_positive_int("projection_dim", c.projection_dim);
  c.num_hidden_layers = r.get_positive_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = r.get_positive_int("num_attention_heads", c.num_attention_heads);
  c.max_position_embeddings = r.get_positive_int("max_position_embeddings", c.max_position_embeddings);
  if (c.hidden_size % c.num_attention_heads != 0)
    r.fail("num_attention_heads", "must divide hidden_size (" + std::to_string(c.hidden_size) + ")");
  c.layer_norm_eps = static_cast<float>(r.get_double("layer_norm_eps", c.layer_norm_eps));
  c.eos_token_id = r.get_int("eos_token_id", c.eos_token_id);

  // transformers' "gelu" is the exact erf form; the tanh approximations are different functions.
  const std::string act = r.get_string("hidden_act", "quick_gelu");
  if (act == "quick_gelu")
    c.hidden_act = UnaryOp::QuickGELU;
  else if (act == "gelu")
    c.hidden_act = UnaryOp::GELU;
  else
    r.fail("hidden_act", "not supported by websd (supported: \"quick_gelu\", \"gelu\")");

  // Training settings, the tokenizer's ids the model never looks at, and storage bookkeeping.
  r.ignore({"attention_dropout", "dropout", "initializer_range", "initializer_factor", "bos_token_id", "pad_token_id",
            "dtype", "torch_dtype", "transformers_version"});
  r.finish();
  return c;
}

}  // namespace websd
