#include "pipeline/model_info.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "core/error.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_config.h"
#include "pipeline/model_source.h"

namespace websd {
namespace {

struct Counts {
  size_t tensors = 0;
  int64_t parameters = 0;
  std::set<std::string> dtypes;
};

std::string dtype_name(StDType d) {
  switch (d) {
    case StDType::F16: return "float16";
    case StDType::BF16: return "bfloat16";
    case StDType::F32: return "float32";
    case StDType::F64: return "float64";
    case StDType::I32: return "int32";
    case StDType::I64: return "int64";
    case StDType::U8: return "uint8";
    case StDType::I8: return "int8";
    case StDType::I16: return "int16";
    case StDType::BOOL: return "bool";
  }
  return "?";
}

// 1234567 → "1,234,567"
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Counts counts(const ModelSource& source, const std::string& component) {
  Counts c;
  if (const auto& ck = source.checkpoint()) {
    for (const auto& [name, recipe] : ck->tensors(component)) {
      ++c.tensors;
      c.parameters += numel(recipe.shape);
      c.dtypes.insert(dtype_name(ck->file().info(recipe.key).dtype));
    }
    return c;
  }
  if (const auto& cache = source.tensor_cache()) {
    for (const TensorShard& shard : cache->shards)
      for (const CachedTensor& t : shard.tensors)
        if (t.component() == component) {
          ++c.tensors;
          c.parameters += numel(t.shape);
          c.dtypes.insert(websd::dtype_name(t.dtype));
        }
    return c;
  }
  for (const std::string& file : Weights::component_files(source.folder(component))) {
    const SafetensorsFile f(file);
    for (const auto& [name, info] : f.tensors()) {
      ++c.tensors;
      c.parameters += numel(info.shape);
      c.dtypes.insert(dtype_name(info.dtype));
    }
  }
  return c;
}

// Reads a component's config the way the pipeline will, so that info reports a config that does
// not fit (e.g. heads a single file's weights cannot tell) before anyone waits for a load.
void check_config(const ModelSource& source, const std::string& component) {
  if (component == "unet") UNetConfig::parse(source.config(component));
  else if (component == "vae") AutoencoderKLConfig::parse(source.config(component));
  else ClipTextConfig::parse(source.config(component));
}

std::string row(const std::string& component, const std::string& cls, const std::string& tensors,
                const std::string& parameters, const std::string& dtypes) {
  char line[200];
  std::snprintf(line, sizeof line, "%-15s %-30s %8s %15s  %s", component.c_str(), cls.c_str(), tensors.c_str(),
                parameters.c_str(), dtypes.c_str());
  std::string s = line;
  return s.erase(s.find_last_not_of(' ') + 1) + "\n";
}

}  // namespace

std::string describe_model(const std::string& path, const std::string& config_dir) {
  const ModelSource source = ModelSource::open(path, config_dir);
  const ModelIndex& index = source.index();
  const nlohmann::json model_index = read_json_file(index.dir + "/model_index.json");
  const auto& ck = source.checkpoint();
  const bool xl = index.family == PipelineFamily::kStableDiffusionXL;

  std::ostringstream out;
  out << "model      " << path << "\n";
  if (ck) {
    out << "format     single file (original layout): " << ck->file().tensors().size() << " tensors";
    if (!ck->ignored().empty())
      out << ", " << ck->ignored().size() << " not used (training buffers, EMA copies; e.g. " << ck->ignored().front()
          << ")";
    out << "\n";
  } else if (const auto& artifact = source.artifact()) {
    out << "format     artifact model (" << artifact->converter << "): " << source.tensor_cache()->shards.size()
        << " shards, " << (artifact->weight_bytes >> 20) << " MiB of " << artifact->dtype << " weights, "
        << (artifact->total_bytes >> 20) << " MiB in all (shards are verified as they load)\n";
  } else {
    out << "format     diffusers folder\n";
  }
  out << "family     " << (ck ? ck->family_name() : xl ? "SDXL" : "SD 1.x/2.x") << " (" << index.pipeline_class << ")\n";
  if (ck)
    out << "configs    " << index.dir
        << (source.standard_configs() ? " (the standard ones, sized to the weights)" : " (given with --config)") << "\n";
  out << "\n" << row("component", "class", "tensors", "parameters", "dtype");

  std::vector<std::string> notes;
  Counts total;
  for (const char* component :
       {"unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"}) {
    const auto entry = model_index.find(component);
    if (entry == model_index.end() || !entry->is_array() || entry->size() != 2 || !(*entry)[1].is_string()) continue;
    const std::string cls = (*entry)[1].get<std::string>();
    const std::string name = component;
    if (name.rfind("tokenizer", 0) == 0 || name == "scheduler") {
      out << row(name, cls, "", "", "");
      continue;
    }
    try {
      const Counts c = counts(source, name);
      total.tensors += c.tensors;
      total.parameters += c.parameters;
      out << row(name, cls, std::to_string(c.tensors), grouped(c.parameters), joined(c.dtypes));
    } catch (const Error& e) {  // a config-only folder such as assets/configs/sd15
      out << row(name, cls, "none", "", "");
      notes.push_back(e.what());
    }
    try {
      check_config(source, name);
    } catch (const Error& e) {
      notes.push_back(e.what());
    }
  }
  out << row("total", "", std::to_string(total.tensors), grouped(total.parameters), "");
  if (!notes.empty()) out << "\n";
  for (const std::string& note : notes) out << "note: " << note << "\n";
  return out.str();
}

}  // namespace websd
