#pragma once
#include <string>
#include <vector>

#include "pipeline/text_to_image.h"

namespace websd::cli {

// The per-stage report printed after a generation: text encoder ms; UNet steps (count, mean and
// min ms); VAE decode ms; kernels; peak backend memory. web/cli/stage_report.mjs prints the same
// line for the Node CLI; keep them in step.
std::string format_stages(const std::string& backend, const std::vector<StageReport>& stages);

// With --runs N > 1: "runs: 12.493 s, 8.210 s, ..." — each whole generation's wall time.
std::string format_runs(const std::vector<double>& run_seconds);

// --report FILE: {"backend": ..., "stages": [{"name", "ms", "kernels", "peakBytes"}], "runSeconds":
// [...], "runResidentBytes": [...]}: the last run's stages under the keys of the JS API's
// result.stages, every run's seconds and the process's resident memory after it (a soak's record).
void write_stages_json(const std::string& path, const std::string& backend, const std::vector<StageReport>& stages,
                       const std::vector<double>& run_seconds, const std::vector<uint64_t>& run_resident_bytes);

}  // namespace websd::cli
