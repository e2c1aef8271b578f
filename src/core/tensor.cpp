#include "core/tensor.h"

#include "core/error.h"

namespace websd {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

HostTensor::HostTensor(Shape s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {
  if (static_cast<int64_t>(data.size()) != websd::numel(shape))
    throw Error("tensor data has " + std::to_string(data.size()) + " values but shape " +
                shape_str(shape) + " needs " + std::to_string(websd::numel(shape)));
}

}  // namespace websd
