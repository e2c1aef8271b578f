#pragma once
#include <emscripten/val.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/tensor.h"

namespace websd::wasm {

using emscripten::val;

// {shape: number[], data: Float32Array} (a copy: views into wasm memory die when it grows).
val tensor_to_js(const HostTensor& t);
HostTensor tensor_from_js(const val& v, const std::string& what);

// Optional fields of an options object; a present field of the wrong type is an Error naming it.
std::string string_field(const val& obj, const char* name, const std::string& fallback);
double number_field(const val& obj, const char* name, double fallback);
bool has_field(const val& obj, const char* name);
int int_field(const val& obj, const char* name, int fallback);
bool bool_field(const val& obj, const char* name, bool fallback);
// A JS number (exact up to 2^53) or a BigInt, like the CLI's unsigned 64-bit seeds.
uint64_t seed_field(const val& obj, const char* name, uint64_t fallback);

[[noreturn]] void throw_js_error(const std::string& message);

// Runs f and rethrows any C++ exception as a JS Error with the same message: JS callers then see
// websd::Error's one line rather than an abort or an opaque exception pointer.
template <class F>
auto with_js_errors(F&& f) -> decltype(f()) {
  std::string message;
  try {
    return f();
  } catch (const std::exception& e) {
    message = e.what();
  }
  // Thrown outside the catch block so the C++ exception is released first.
  throw_js_error(message);
}

}  // namespace websd::wasm
