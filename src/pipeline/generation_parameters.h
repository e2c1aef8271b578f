#pragma once
#include <cstdint>
#include <string>

#include "sched/scheduler.h"

namespace websd {

// A picture's settings as AUTOMATIC1111 writes them into its PNGs' "parameters" text (and
// stable-diffusion.cpp and most tools read them back):
//   <prompt>
//   Negative prompt: <negative prompt>
//   Steps: 20, Sampler: Euler, Schedule type: Karras, CFG scale: 7.5, Seed: 0, Size: 512x512, Model: sd15
// The prompt may span lines; the negative prompt line is left out when there is none; values
// holding a comma or a quote are written in JSON quotes.
struct GenerationParameters {
  std::string prompt, negative_prompt;
  int steps = 0;
  std::string sampler;        // AUTOMATIC1111's name: Euler, DPM++ 2M, PLMS, DDIM, LCM
  std::string schedule_type;  // "Karras", "Exponential", or empty
  double cfg_scale = 0;
  uint64_t seed = 0;
  int width = 0, height = 0;
  int clip_skip = 0;  // diffusers' clip_skip; AUTOMATIC1111 counts one more ("Clip skip: 2" is 1)
  std::string model;  // a name, not a path

  bool operator==(const GenerationParameters&) const = default;
};

std::string format_parameters(const GenerationParameters& p);
// The inverse of format_parameters for the fields above (others are ignored); throws websd::Error
// naming what is missing or malformed.
GenerationParameters parse_parameters(const std::string& text);

// AUTOMATIC1111's sampler and schedule names for a scheduler (diffusers' PNDM is its PLMS).
void describe_sampler(const Scheduler& scheduler, GenerationParameters& p);
// The name a model goes by in a picture's parameters: its folder's or file's name, without the
// extension (a URL's last segment likewise).
std::string model_label(const std::string& model);

}  // namespace websd
