#pragma once
#include <string>

#include "core/tensor.h"
#include "io/config.h"

namespace websd::sched {

// Element-wise f over equally shaped tensors, one float result per element like torch's kernels.
template <class F>
HostTensor map(const HostTensor& a, F f) {
  HostTensor out(a.shape);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(a.data[i]);
  return out;
}
template <class F>
HostTensor map(const HostTensor& a, const HostTensor& b, F f) {
  HostTensor out(a.shape);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(a.data[i], b.data[i]);
  return out;
}

// Throws websd::Error naming the scheduler unless the two tensors have the same shape.
void check_same_shape(const std::string& scheduler, const HostTensor& model_output, const HostTensor& sample);

// What the model predicts (config field prediction_type).
enum class Prediction { kEpsilon, kSample, kVPrediction };
Prediction read_prediction_type(ConfigReader& config, bool sample_supported);

// How the predicted clean sample x0 is bounded before use: Imagen's dynamic thresholding or a
// plain clip (fields thresholding, dynamic_thresholding_ratio, sample_max_value, and where the
// class has them, clip_sample and clip_sample_range).
class X0Clipping {
 public:
  // has_clip_field: whether the class has clip_sample and clip_sample_range (DPM-Solver has not);
  // clip_default: its clip_sample default.
  static X0Clipping read(ConfigReader& config, bool has_clip_field, bool clip_default);
  void apply(HostTensor& x0) const;
  bool active() const { return thresholding_ || clip_; }

 private:
  bool thresholding_ = false;
  double ratio_ = 0.995;
  double sample_max_ = 1.0;
  bool clip_ = false;
  double clip_range_ = 1.0;
};

}  // namespace websd::sched
