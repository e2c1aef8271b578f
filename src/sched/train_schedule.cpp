#include "sched/train_schedule.h"

#include <cmath>
#include <numbers>

namespace websd::sched {
namespace {

// Stable Diffusion models are trained over 1000 timesteps. The tables are built per training
// timestep, so a config asking for billions (a broken or hostile file) would take gigabytes and minutes.
constexpr int kMaxTrainTimesteps = 100000;

// torch.linspace(start, end, steps, dtype=torch.float32) on the CPU: float arithmetic, the first
// half counted up from start and the second half down from end. torch's kernel is built with FMA
// contraction, so each multiply-add rounds once. Callers ensure steps >= 2.
std::vector<float> torch_linspace_f32(double start, double end, int steps) {
  float first = static_cast<float>(start);
  float last = static_cast<float>(end);
  std::vector<float> out(steps);
  float step = (last - first) / static_cast<float>(steps - 1);
  int halfway = steps / 2;
  for (int i = 0; i < steps; ++i) {
    out[i] = i < halfway ? std::fma(step, static_cast<float>(i), first)
                         : std::fma(-step, static_cast<float>(steps - i - 1), last);
  }
  return out;
}

// Glide's cosine schedule (betas_for_alpha_bar with the "cosine" transform), in double like Python.
std::vector<float> squaredcos_cap_v2_betas(int n) {
  auto alpha_bar = [](double t) {
    double c = std::cos((t + 0.008) / 1.008 * std::numbers::pi / 2);
    return c * c;
  };
  std::vector<float> betas(n);
  for (int i = 0; i < n; ++i) {
    double t1 = static_cast<double>(i) / n;
    double t2 = static_cast<double>(i + 1) / n;
    betas[i] = static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
  }
  return betas;
}

// torch.cumprod on float32 accumulates in double and rounds each partial product.
std::vector<float> cumulative_alphas(const std::vector<float>& betas) {
  std::vector<float> out(betas.size());
  double product = 1.0;
  for (size_t i = 0; i < betas.size(); ++i) {
    product *= static_cast<float>(1.0f - betas[i]);
    out[i] = static_cast<float>(product);
  }
  return out;
}

// Algorithm 1 of "Common Diffusion Noise Schedules and Sample Steps are Flawed": shift and scale
// sqrt(alphas_cumprod) so the last timestep has zero SNR, then convert back to betas.
std::vector<float> rescale_zero_terminal_snr(const std::vector<float>& betas) {
  std::vector<float> root = cumulative_alphas(betas);
  for (float& v : root) v = std::sqrt(v);
  float first = root.front();
  float last = root.back();
  float scale = first / (first - last);
  for (float& v : root) v = (v - last) * scale;
  std::vector<float> out(betas.size());
  float previous = 0.0f;
  for (size_t i = 0; i < root.size(); ++i) {
    float alpha_bar = root[i] * root[i];
    float alpha = i == 0 ? alpha_bar : alpha_bar / previous;
    out[i] = 1.0f - alpha;
    previous = alpha_bar;
  }
  return out;
}

}  // namespace

TrainSchedule read_train_schedule(ConfigReader& config, const BetaDefaults& defaults, ZeroSnrField zero_snr) {
  TrainSchedule out;
  out.num_train_timesteps = config.get_int("num_train_timesteps", 1000);
  if (out.num_train_timesteps < 2 || out.num_train_timesteps > kMaxTrainTimesteps)
    config.fail("num_train_timesteps", "must be between 2 and " + std::to_string(kMaxTrainTimesteps));
  double beta_start = config.get_double("beta_start", defaults.beta_start);
  double beta_end = config.get_double("beta_end", defaults.beta_end);
  out.beta_schedule = config.get_string("beta_schedule", defaults.beta_schedule);
  const std::string& schedule = out.beta_schedule;
  std::vector<double> trained = config.get_double_list("trained_betas");

  std::vector<float> betas;
  if (!trained.empty()) {
    if (trained.size() != static_cast<size_t>(out.num_train_timesteps))
      config.fail("trained_betas", "needs one beta per training timestep (num_train_timesteps = " +
                                       std::to_string(out.num_train_timesteps) + ")");
    for (double b : trained) betas.push_back(static_cast<float>(b));
  } else if (schedule == "linear") {
    betas = torch_linspace_f32(beta_start, beta_end, out.num_train_timesteps);
  } else if (schedule == "scaled_linear") {
    betas = torch_linspace_f32(std::pow(beta_start, 0.5), std::pow(beta_end, 0.5), out.num_train_timesteps);
    for (float& b : betas) b = b * b;
  } else if (schedule == "squaredcos_cap_v2") {
    betas = squaredcos_cap_v2_betas(out.num_train_timesteps);
  } else {
    config.fail("beta_schedule", "supported: \"linear\", \"scaled_linear\", \"squaredcos_cap_v2\"");
  }

  bool rescale = zero_snr != ZeroSnrField::kAbsent && config.get_bool("rescale_betas_zero_snr", false);
  if (rescale) betas = rescale_zero_terminal_snr(betas);
  out.alphas_cumprod = cumulative_alphas(betas);
  if (rescale && zero_snr == ZeroSnrField::kRescaleWithFloor) out.alphas_cumprod.back() = std::ldexp(1.0f, -24);
  return out;
}

}  // namespace websd::sched
