#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/tensor.h"

namespace websd {

enum class StDType { F16, BF16, F32, F64, I32, I64, U8, I8, I16, BOOL };

struct StTensorInfo {
  StDType dtype;
  Shape shape;
  uint64_t begin;  // offset in the data section
  uint64_t end;
};

// Reads a .safetensors file: the header is validated when opened (size bounds, offsets inside
// the file, known dtypes, sizes that match shapes, no overlaps); tensor data is read on demand so
// a multi-gigabyte checkpoint never has to sit in memory twice.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, StTensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const StTensorInfo& info(const std::string& name) const;

  // Converts any float or integer dtype to float32.
  HostTensor read(const std::string& name);
  // Full precision for float64 references (timesteps, sigmas).
  std::vector<double> read_f64(const std::string& name);
  std::vector<uint8_t> read_raw(const std::string& name);

 private:
  std::string path_;
  std::ifstream file_;
  uint64_t data_start_ = 0;
  std::map<std::string, StTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

size_t st_dtype_size(StDType dtype);
const char* st_dtype_name(StDType dtype);

// Writes float32 tensors (keys sorted, as the format requires for reproducible files).
void write_safetensors(const std::string& path, const std::map<std::string, HostTensor>& tensors);

}  // namespace websd
