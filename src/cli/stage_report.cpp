#include "cli/stage_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace websd::cli {
namespace {

std::string fixed1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string format_stages(const std::string& backend, const std::vector<StageReport>& stages) {
  double text_ms = 0, vae_ms = 0, unet_sum = 0, unet_min = 0;
  int unet_steps = 0;
  uint64_t kernels = 0, pipelines = 0;
  double compile_ms = 0;
  int64_t peak = 0;
  for (const StageReport& s : stages) {
    if (s.name == "text_encoder") text_ms += s.ms;
    if (s.name == "vae_decode") vae_ms += s.ms;
    if (s.name == "unet_step") {
      unet_min = unet_steps == 0 ? s.ms : std::min(unet_min, s.ms);
      unet_sum += s.ms;
      ++unet_steps;
    }
    kernels += s.kernels;
    pipelines += s.pipelines;
    compile_ms += s.compile_ms;
    peak = std::max(peak, s.peak_bytes);
  }
  const double mean = unet_steps ? unet_sum / unet_steps : 0;
  return "text encoder " + fixed1(text_ms) + " ms; unet " + std::to_string(unet_steps) + " steps, mean " + fixed1(mean) +
         " ms, min " + fixed1(unet_min) + " ms; vae decode " + fixed1(vae_ms) + " ms; " + std::to_string(kernels) +
         " kernels; peak " + backend + " memory " + fixed1(static_cast<double>(peak) / (1 << 20)) + " MiB" +
         (pipelines ? "; " + std::to_string(pipelines) + " pipelines compiled in " + fixed1(compile_ms) + " ms" : "");
}

std::string format_runs(const std::vector<double>& run_seconds) {
  std::string line = "runs:";
  for (size_t i = 0; i < run_seconds.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s %.3f s", i ? "," : "", run_seconds[i]);
    line += buf;
  }
  return line;
}

void write_stages_json(const std::string& path, const std::string& backend, const std::vector<StageReport>& stages,
                       const std::vector<double>& run_seconds, const std::vector<uint64_t>& run_resident_bytes) {
  nlohmann::json list = nlohmann::json::array();
  for (const StageReport& s : stages)
    list.push_back({{"name", s.name}, {"ms", s.ms}, {"kernels", s.kernels}, {"peakBytes", s.peak_bytes},
                    {"pipelines", s.pipelines}, {"compileMs", s.compile_ms}});
  std::ofstream out(path);
  out << nlohmann::json{{"backend", backend}, {"stages", list}, {"runSeconds", run_seconds},
                         {"runResidentBytes", run_resident_bytes}}.dump(2) << "\n";
  if (!out) throw Error(path + ": cannot write the stage report");
}

}  // namespace websd::cli
