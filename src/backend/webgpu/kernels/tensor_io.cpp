#include "backend/webgpu/kernels/tensor_io.h"

#include "core/error.h"

namespace websd::wgsl {
namespace {

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

// The element at local index j of chunk binding `var`.
std::string element(const std::string& var, Storage storage, const std::string& j) {
  if (storage == Storage::F32) return var + "[" + j + "]";
  return "unpack2x16float(" + var + "[(" + j + ") >> 1u])[(" + j + ") & 1u]";
}

enum class Access { Read, Write, ReadWrite };

std::string bind(const std::string& name, const TensorView& v, Access access, uint32_t& next_binding) {
  const bool output = access != Access::Read;
  if (v.chunks == 0 || (v.chunks > 1 && v.chunk_elems == 0))
    throw Error("webgpu backend: tensor '" + name + "' has no storage chunks");
  if (output && v.storage != Storage::F32) throw Error("webgpu backend: output '" + name + "' must be float32");
  if (v.storage == Storage::F16 && v.chunks > 1 && v.chunk_elems % 2 != 0)
    throw Error("webgpu backend: float16 tensor '" + name + "' split at an odd element");
  const std::string word = v.storage == Storage::F32 ? "f32" : "u32";
  const std::string mode = output ? "read_write" : "read";
  std::string src;
  for (uint32_t c = 0; c < v.chunks; ++c) {
    src += "@group(0) @binding(" + std::to_string(next_binding++) + ") var<storage, " + mode + "> " + name + "_" +
           std::to_string(c) + ": array<" + word + ">;\n";
  }
  // Chunk c holds elements [c·CE, (c+1)·CE): a chain of range tests picks it.
  auto dispatch = [&](const std::string& per_chunk) {
    std::string body;
    for (uint32_t c = 0; c < v.chunks; ++c) {
      const std::string var = name + "_" + std::to_string(c);
      const std::string j = c == 0 ? std::string("i") : "i - " + u32(uint64_t{c} * v.chunk_elems);
      std::string stmt = per_chunk;
      for (size_t at; (at = stmt.find("$V")) != std::string::npos;) stmt.replace(at, 2, var);
      for (size_t at; (at = stmt.find("$J")) != std::string::npos;) stmt.replace(at, 2, j);
      if (c + 1 < v.chunks)
        body += "  if (i < " + u32(uint64_t{c + 1} * v.chunk_elems) + ") { " + stmt + " }\n";
      else
        body += "  " + stmt + "\n";
    }
    return body;
  };
  if (output) src += "fn store_" + name + "(i: u32, v: f32) {\n" + dispatch("$V[$J] = v; return;") + "}\n";
  if (access != Access::Write)
    src += "fn load_" + name + "(i: u32) -> f32 {\n" + dispatch("return " + element("$V", v.storage, "$J") + ";") + "}\n";
  return src;
}

}  // namespace

std::string view_key(const TensorView& v) {
  std::string k = v.storage == Storage::F16 ? "h" : "f";
  if (v.chunks > 1) k += std::to_string(v.chunks) + "x" + std::to_string(v.chunk_elems);
  return k;
}

std::string bind_tensor(const std::string& name, const TensorView& v, bool output, uint32_t& next_binding) {
  return bind(name, v, output ? Access::Write : Access::Read, next_binding);
}

std::string bind_tensor_in_place(const std::string& name, const TensorView& v, uint32_t& next_binding) {
  return bind(name, v, Access::ReadWrite, next_binding);
}

}  // namespace websd::wgsl
