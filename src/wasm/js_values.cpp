#include "wasm/js_values.h"

#include <cmath>

#include "core/error.h"

namespace websd::wasm {

val tensor_to_js(const HostTensor& t) {
  val shape = val::array();
  for (int64_t d : t.shape) shape.call<void>("push", static_cast<double>(d));
  val data = val::global("Float32Array").new_(emscripten::typed_memory_view(t.data.size(), t.data.data()));
  val out = val::object();
  out.set("shape", shape);
  out.set("data", data.call<val>("slice"));
  return out;
}

HostTensor tensor_from_js(const val& v, const std::string& what) {
  if (v.isUndefined() || v.isNull() || !v["shape"].isArray())
    throw Error(what + ": expected {shape: number[], data: Float32Array}");
  Shape shape;
  for (double d : emscripten::vecFromJSArray<double>(v["shape"])) shape.push_back(static_cast<int64_t>(d));
  std::vector<float> data = emscripten::convertJSArrayToNumberVector<float>(v["data"]);
  if (static_cast<int64_t>(data.size()) != numel(shape))
    throw Error(what + ": shape " + shape_str(shape) + " needs " + std::to_string(numel(shape)) + " values, data has " +
                std::to_string(data.size()));
  return HostTensor(std::move(shape), std::move(data));
}

bool has_field(const val& obj, const char* name) {
  return !obj.isUndefined() && !obj.isNull() && !obj[name].isUndefined() && !obj[name].isNull();
}

std::string string_field(const val& obj, const char* name, const std::string& fallback) {
  if (!has_field(obj, name)) return fallback;
  if (!obj[name].isString()) throw Error(std::string("option '") + name + "' must be a string");
  return obj[name].as<std::string>();
}

double number_field(const val& obj, const char* name, double fallback) {
  if (!has_field(obj, name)) return fallback;
  if (!obj[name].isNumber()) throw Error(std::string("option '") + name + "' must be a number");
  return obj[name].as<double>();
}

bool bool_field(const val& obj, const char* name, bool fallback) {
  if (!has_field(obj, name)) return fallback;
  if (obj[name].typeOf().as<std::string>() != "boolean") throw Error(std::string("option '") + name + "' must be true or false");
  return obj[name].as<bool>();
}

int int_field(const val& obj, const char* name, int fallback) {
  const double v = number_field(obj, name, fallback);
  if (v != std::floor(v) || std::abs(v) > 1e9) throw Error(std::string("option '") + name + "' must be an integer");
  return static_cast<int>(v);
}

uint64_t seed_field(const val& obj, const char* name, uint64_t fallback) {
  if (!has_field(obj, name)) return fallback;
  const val seed = obj[name];
  if (seed.typeOf().as<std::string>() == "bigint") {
    if (seed < val(0) || seed >= val::global("BigInt")(val("18446744073709551616")))
      throw Error(std::string("option '") + name + "' must be an integer in [0, 2^64)");
    return std::stoull(seed.call<std::string>("toString"));
  }
  const double v = number_field(obj, name, 0);
  if (v < 0 || v != std::floor(v) || v > 9007199254740991.0)
    throw Error(std::string("option '") + name + "' must be an integer in [0, 2^53] (use a BigInt above that)");
  return static_cast<uint64_t>(v);
}

void throw_js_error(const std::string& message) { val::global("Error").new_(message).throw_(); }

}  // namespace websd::wasm
