#include "backend/shape_only_backend.h"

#include "core/error.h"

namespace websd {

Tensor ShapeOnlyBackend::upload(const Shape& shape, std::span<const float>) { return Tensor{shape, nullptr}; }

Tensor ShapeOnlyBackend::upload_weight_bytes(const Shape& shape, const WeightBytes&) { return Tensor{shape, nullptr}; }

std::vector<float> ShapeOnlyBackend::download(const Tensor&) { fail("download"); }

void ShapeOnlyBackend::fail(const char* op) {
  throw Error(std::string("shape-only backend: '") + op + "' needs values; this backend only checks shapes");
}

}  // namespace websd
