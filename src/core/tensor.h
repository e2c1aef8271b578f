#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace websd {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
std::string shape_str(const Shape& shape);

// Dense row-major float32 data in host memory: what files, schedulers and the pipeline exchange.
struct HostTensor {
  Shape shape;
  std::vector<float> data;

  HostTensor() = default;
  explicit HostTensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(websd::numel(shape)), 0.0f) {}
  HostTensor(Shape s, std::vector<float> d);
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

}  // namespace websd
