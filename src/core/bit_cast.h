#pragma once
#include <type_traits>

namespace websd {

// std::bit_cast, which the libc++ of Emscripten 3.1.6 (13) lacks; GCC's and Clang's std::bit_cast
// are this builtin, so native code is unchanged.
template <class To, class From>
constexpr To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From) && std::is_trivially_copyable_v<To> && std::is_trivially_copyable_v<From>);
  return __builtin_bit_cast(To, from);
}

}  // namespace websd
