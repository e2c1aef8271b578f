#include "backend/backend.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"

namespace websd {

Tensor Tensor::reshaped(Shape new_shape) const {
  if (websd::numel(new_shape) != numel())
    throw Error("cannot reshape " + shape_str(shape) + " to " + shape_str(new_shape));
  return Tensor{std::move(new_shape), buffer};
}

Tensor Backend::upload_weight_bytes(const Shape& shape, const WeightBytes& bytes) {
  if (bytes.staged) throw Error(name() + " backend: weights staged in the GPU host need the webgpu backend");
  const size_t n = static_cast<size_t>(websd::numel(shape));
  if (bytes.host.size() < n * bytes.element_size())
    throw Error(name() + " backend: " + std::to_string(bytes.host.size()) + " bytes for a weight of shape " +
                shape_str(shape));
  std::vector<float> values(n);
  const uint8_t* p = bytes.host.data();
  if (bytes.dtype == WeightBytes::DType::F16) {
    for (size_t i = 0; i < n; ++i) values[i] = f16_to_f32(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  } else {
    std::memcpy(values.data(), p, n * sizeof(float));
  }
  return upload_weight(shape, values);
}

}  // namespace websd
