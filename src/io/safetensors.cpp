#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace websd {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// An SDXL checkpoint with EMA copies holds about 5,000 tensors; far more is a broken or hostile file.
constexpr size_t kMaxTensors = 1u << 16;

StDType parse_dtype(const std::string& s, const std::string& where) {
  static const std::map<std::string, StDType> names = {
      {"F16", StDType::F16}, {"BF16", StDType::BF16}, {"F32", StDType::F32}, {"F64", StDType::F64},
      {"I32", StDType::I32}, {"I64", StDType::I64},   {"U8", StDType::U8},   {"I8", StDType::I8},
      {"I16", StDType::I16}, {"BOOL", StDType::BOOL}};
  auto it = names.find(s);
  if (it == names.end()) throw Error(where + ": unsupported dtype '" + s + "'");
  return it->second;
}

template <typename T>
void widen(const uint8_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

}  // namespace

size_t st_dtype_size(StDType dtype) {
  switch (dtype) {
    case StDType::F64:
    case StDType::I64: return 8;
    case StDType::F32:
    case StDType::I32: return 4;
    case StDType::F16:
    case StDType::BF16:
    case StDType::I16: return 2;
    default: return 1;
  }
}

const char* st_dtype_name(StDType dtype) {
  static const char* names[] = {"F16", "BF16", "F32", "F64", "I32", "I64", "U8", "I8", "I16", "BOOL"};
  return names[static_cast<int>(dtype)];
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  file_.open(path, std::ios::binary);
  if (!file_) throw Error(path + ": cannot open safetensors file");
  file_.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(file_.tellg());
  file_.seekg(0);
  uint8_t len_bytes[8];
  if (file_size < 8 || !file_.read(reinterpret_cast<char*>(len_bytes), 8))
    throw Error(path + ": not a safetensors file (shorter than its 8-byte header length)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeaderBytes || header_len > file_size - 8)
    throw Error(path + ": not a safetensors file (header length " + std::to_string(header_len) +
                " exceeds the file or the 100 MiB limit)");
  std::string header(header_len, '\0');
  file_.read(header.data(), static_cast<std::streamsize>(header_len));
  data_start_ = 8 + header_len;
  const uint64_t data_size = file_size - data_start_;

  nlohmann::json j = nlohmann::json::parse(header, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(path + ": safetensors header is not a JSON object");
  const size_t tensor_count = j.size() - (j.contains("__metadata__") ? 1 : 0);
  if (tensor_count > kMaxTensors)
    throw Error(path + ": safetensors header lists " + std::to_string(tensor_count) + " tensors; websd reads at most " +
                std::to_string(kMaxTensors) + " per file");

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& [name, entry] : j.items()) {
    const std::string where = path + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(path + ": __metadata__ is not an object");
      for (auto& [k, v] : entry.items())
        if (v.is_string()) metadata_[k] = v.get<std::string>();
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() || !entry["shape"].is_array() ||
        !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      throw Error(where + ": header entry needs dtype, shape and two data_offsets");
    StTensorInfo info;
    info.dtype = parse_dtype(entry["dtype"].get<std::string>(), where);
    uint64_t count = 1;
    for (auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw Error(where + ": shape entries must be non-negative integers");
      uint64_t v = d.get<uint64_t>();
      // Beside a 0 any size gives no bytes; above 2^63 it would turn negative as a dimension.
      if (v > (1ull << 62) || (v != 0 && count > (1ull << 62) / v)) throw Error(where + ": shape is too large");
      count *= v;
      info.shape.push_back(static_cast<int64_t>(v));
    }
    for (auto& o : entry["data_offsets"])
      if (!o.is_number_unsigned()) throw Error(where + ": data_offsets must be non-negative integers");
    info.begin = entry["data_offsets"][0].get<uint64_t>();
    info.end = entry["data_offsets"][1].get<uint64_t>();
    if (info.begin > info.end || info.end > data_size)
      throw Error(where + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                  "] lie outside the file's " + std::to_string(data_size) + "-byte data section (truncated file?)");
    // Divided rather than multiplied: 2^62 elements of 8 bytes would wrap around 2^64.
    const uint64_t bytes = info.end - info.begin, element = st_dtype_size(info.dtype);
    if (bytes % element != 0 || bytes / element != count)
      throw Error(where + ": " + std::to_string(info.end - info.begin) + " bytes do not match shape " +
                  shape_str(info.shape) + " of " + st_dtype_name(info.dtype));
    if (info.end > info.begin) ranges.emplace_back(info.begin, info.end);
    tensors_.emplace(name, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) throw Error(path + ": tensors overlap in the data section");
}

const StTensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(path_ + ": missing tensor '" + name + "'");
  return it->second;
}

std::vector<uint8_t> SafetensorsFile::read_raw(const std::string& name) {
  const StTensorInfo& ti = info(name);
  std::vector<uint8_t> bytes(ti.end - ti.begin);
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(data_start_ + ti.begin));
  if (!file_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw Error(path_ + ": read failed for tensor '" + name + "'");
  return bytes;
}

HostTensor SafetensorsFile::read(const std::string& name) {
  const StTensorInfo& ti = info(name);
  std::vector<uint8_t> raw = read_raw(name);
  HostTensor t(ti.shape);
  // memcpy must not be given an empty vector's null data, even for no bytes.
  if (t.data.empty()) return t;
  const size_t n = t.data.size();
  float* dst = t.data.data();
  const uint8_t* src = raw.data();
  switch (ti.dtype) {
    case StDType::F32: std::memcpy(dst, src, n * 4); break;
    case StDType::F16:
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      break;
    case StDType::BF16:
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      break;
    case StDType::F64: widen<double>(src, n, dst); break;
    case StDType::I64: widen<int64_t>(src, n, dst); break;
    case StDType::I32: widen<int32_t>(src, n, dst); break;
    case StDType::I16: widen<int16_t>(src, n, dst); break;
    case StDType::I8: widen<int8_t>(src, n, dst); break;
    case StDType::U8:
    case StDType::BOOL: widen<uint8_t>(src, n, dst); break;
  }
  return t;
}

std::vector<double> SafetensorsFile::read_f64(const std::string& name) {
  const StTensorInfo& ti = info(name);
  if (ti.dtype == StDType::F64) {
    std::vector<uint8_t> raw = read_raw(name);
    std::vector<double> out(raw.size() / 8);
    if (!out.empty()) std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  }
  HostTensor t = read(name);
  return std::vector<double>(t.data.begin(), t.data.end());
}

void write_safetensors(const std::string& path, const std::map<std::string, HostTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (auto& [name, t] : tensors) {
    const uint64_t bytes = t.data.size() * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';  // keeps the data section aligned for readers that map it
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot write file");
  uint8_t len[8];
  const uint64_t header_size = h.size();  // 64-bit even where size_t is 32 (wasm32)
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((header_size >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<char*>(len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * 4));
  if (!out) throw Error(path + ": write failed (disk full?)");
}

}  // namespace websd
