#include "pipeline/generation_parameters.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "core/number_format.h"

namespace websd {
namespace {

// AUTOMATIC1111 quotes a value that holds a comma, a colon or a line break (as JSON).
std::string quote(const std::string& v) {
  if (v.find_first_of(",:\n\"") == std::string::npos) return v;
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// The settings line's "Key: value" pairs, as AUTOMATIC1111's parser finds them.
const std::regex& setting() {
  static const std::regex re(R"re(\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$))re");
  return re;
}

// libstdc++'s std::regex recurses once per character a match covers: a settings line of some 20,000
// characters overflows an 8 MiB stack. AUTOMATIC1111's own lines stay far below this.
constexpr size_t kMaxSettingsLine = 8192;

[[noreturn]] void bad(const std::string& key, const std::string& value) {
  throw Error("generation parameters: '" + key + "' has the value '" + value + "'");
}

// Values past `max` are refused, not wrapped (steps, sizes and clip skip are ints).
int64_t integer(const std::string& key, const std::string& v, int64_t min, int64_t max = INT32_MAX) {
  int64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || out < min || out > max) bad(key, v);
  return out;
}

}  // namespace

std::string format_parameters(const GenerationParameters& p) {
  std::string out = p.prompt + "\n";
  if (!p.negative_prompt.empty()) out += "Negative prompt: " + p.negative_prompt + "\n";
  out += "Steps: " + std::to_string(p.steps) + ", Sampler: " + quote(p.sampler);
  if (!p.schedule_type.empty()) out += ", Schedule type: " + quote(p.schedule_type);
  out += ", CFG scale: " + shortest_decimal(p.cfg_scale) + ", Seed: " + std::to_string(p.seed) + ", Size: " + std::to_string(p.width) +
         "x" + std::to_string(p.height);
  if (!p.model.empty()) out += ", Model: " + quote(p.model);
  if (p.clip_skip > 0) out += ", Clip skip: " + std::to_string(p.clip_skip + 1);
  return out;
}

GenerationParameters parse_parameters(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t at = 0; at <= text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  const std::string last = lines.empty() ? "" : lines.back();
  if (last.size() > kMaxSettingsLine)
    throw Error("generation parameters: the settings line has " + std::to_string(last.size()) + " characters (at most " +
                std::to_string(kMaxSettingsLine) + " are read)");
  const auto first = std::sregex_iterator(last.begin(), last.end(), setting());
  if (std::distance(first, std::sregex_iterator()) < 3)
    throw Error("generation parameters: no settings line (\"Steps: …, Sampler: …, CFG scale: …\") at the end");
  lines.pop_back();

  GenerationParameters p;
  bool negative = false;
  for (const std::string& raw : lines) {
    std::string line = trim(raw);
    if (line.rfind("Negative prompt:", 0) == 0) {
      negative = true;
      line = trim(line.substr(16));
    }
    std::string& into = negative ? p.negative_prompt : p.prompt;
    into += (into.empty() ? "" : "\n") + line;
  }
  for (auto it = first; it != std::sregex_iterator(); ++it) {
    const std::string key = trim((*it)[1]);
    std::string v = trim((*it)[2]);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      try {
        v = nlohmann::json::parse(v).get<std::string>();
      } catch (const nlohmann::json::exception&) {
        bad(key, v);
      }
    }
    if (key == "Steps") {
      p.steps = static_cast<int>(integer(key, v, 1));
    } else if (key == "Sampler") {
      p.sampler = v;
    } else if (key == "Schedule type") {
      p.schedule_type = v;
    } else if (key == "CFG scale") {
      char* end = nullptr;
      p.cfg_scale = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(p.cfg_scale)) bad(key, v);
    } else if (key == "Seed") {
      p.seed = static_cast<uint64_t>(integer(key, v, 0, INT64_MAX));
    } else if (key == "Size") {
      const size_t x = v.find('x');
      if (x == std::string::npos) bad(key, v);
      p.width = static_cast<int>(integer(key, v.substr(0, x), 1));
      p.height = static_cast<int>(integer(key, v.substr(x + 1), 1));
    } else if (key == "Model") {
      p.model = v;
    } else if (key == "Clip skip") {
      p.clip_skip = static_cast<int>(integer(key, v, 1)) - 1;
    }
  }
  return p;
}

void describe_sampler(const Scheduler& s, GenerationParameters& p) {
  const std::string& c = s.name();
  p.sampler = c == "PNDMScheduler"                 ? "PLMS"
              : c == "EulerDiscreteScheduler"      ? "Euler"
              : c == "DPMSolverMultistepScheduler" ? "DPM++ 2M"
              : c == "DDIMScheduler"               ? "DDIM"
              : c == "LCMScheduler"                ? "LCM"
                                                   : c;
  const sched::SigmaSpacing spacing = s.sigma_spacing();
  p.schedule_type = spacing == sched::SigmaSpacing::kKarras ? "Karras" : spacing == sched::SigmaSpacing::kExponential ? "Exponential" : "";
}

std::string model_label(const std::string& model) {
  std::string m = model;
  while (m.size() > 1 && m.back() == '/') m.pop_back();
  m = m.substr(m.find_last_of('/') == std::string::npos ? 0 : m.find_last_of('/') + 1);
  const std::string ext = ".safetensors";
  if (m.size() > ext.size() && m.compare(m.size() - ext.size(), ext.size(), ext) == 0) m.resize(m.size() - ext.size());
  return m;
}

}  // namespace websd
