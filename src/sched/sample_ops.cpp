#include "sched/sample_ops.h"

#include <algorithm>
#include <cmath>

namespace websd::sched {

void check_same_shape(const std::string& scheduler, const HostTensor& model_output, const HostTensor& sample) {
  if (model_output.shape != sample.shape)
    throw Error(scheduler + ": model output " + shape_str(model_output.shape) + " and sample " +
                shape_str(sample.shape) + " must have the same shape");
}

Prediction read_prediction_type(ConfigReader& config, bool sample_supported) {
  std::string type = config.get_string("prediction_type", "epsilon");
  if (type == "epsilon") return Prediction::kEpsilon;
  if (type == "v_prediction") return Prediction::kVPrediction;
  if (type != "sample" || !sample_supported)
    config.fail("prediction_type", sample_supported ? "supported: \"epsilon\", \"v_prediction\", \"sample\""
                                                    : "supported: \"epsilon\", \"v_prediction\"");
  return Prediction::kSample;
}

X0Clipping X0Clipping::read(ConfigReader& config, bool has_clip_field, bool clip_default) {
  X0Clipping out;
  out.thresholding_ = config.get_bool("thresholding", false);
  out.ratio_ = config.get_double("dynamic_thresholding_ratio", 0.995);
  out.sample_max_ = config.get_double("sample_max_value", 1.0);
  if (out.ratio_ < 0 || out.ratio_ > 1) config.fail("dynamic_thresholding_ratio", "must be between 0 and 1");
  if (has_clip_field) {
    out.clip_ = config.get_bool("clip_sample", clip_default);
    out.clip_range_ = config.get_double("clip_sample_range", 1.0);
  }
  return out;
}

namespace {

// torch.quantile(values, q) with linear interpolation, in float like torch.
float quantile(std::vector<float> values, double q) {
  std::sort(values.begin(), values.end());
  float rank = static_cast<float>(q) * static_cast<float>(values.size() - 1);
  size_t below = static_cast<size_t>(rank);
  size_t above = static_cast<size_t>(std::ceil(rank));
  float weight = rank - static_cast<float>(below);
  float lo = values[below];
  float hi = values[above];
  // torch.lerp's two formulas, chosen by weight so each end is reproduced exactly.
  return weight < 0.5f ? lo + weight * (hi - lo) : hi - (hi - lo) * (1.0f - weight);
}

}  // namespace

void X0Clipping::apply(HostTensor& x0) const {
  if (thresholding_) {
    // Per batch item: s = the ratio-quantile of |x0|, kept within [1, sample_max_value];
    // x0 is clamped to [-s, s] and divided by s.
    size_t batch = x0.shape.empty() ? 1 : static_cast<size_t>(x0.shape[0]);
    size_t per_item = x0.data.size() / batch;
    for (size_t b = 0; b < batch; ++b) {
      float* item = x0.data.data() + b * per_item;
      std::vector<float> magnitudes(per_item);
      for (size_t i = 0; i < per_item; ++i) magnitudes[i] = std::fabs(item[i]);
      float s = quantile(std::move(magnitudes), ratio_);
      s = std::min(std::max(s, 1.0f), static_cast<float>(sample_max_));
      for (size_t i = 0; i < per_item; ++i) item[i] = std::clamp(item[i], -s, s) / s;
    }
  } else if (clip_) {
    float range = static_cast<float>(clip_range_);
    for (float& v : x0.data) v = std::clamp(v, -range, range);
  }
}

}  // namespace websd::sched
