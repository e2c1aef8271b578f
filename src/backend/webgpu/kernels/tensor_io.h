#pragma once
#include <cstdint>
#include <string>

namespace websd::wgsl {

// How values sit in a tensor's GPU memory. F16 packs two float16 values per u32 (element 2k in the
// low half) and kernels unpack them with unpack2x16float, so it needs no shader-f16 feature.
enum class Storage { F32, F16 };

// How a kernel sees one tensor: its storage type and how its elements are split over bindings.
// A tensor larger than the device's maxStorageBufferBindingSize lives in `chunks` buffers of
// `chunk_elems` elements each (the last may be shorter); each buffer is a binding of its own.
struct TensorView {
  Storage storage = Storage::F32;
  uint32_t chunks = 1;
  uint32_t chunk_elems = 0;  // read only when chunks > 1
};

// Declares the bindings of tensor `name` from `next_binding` on (advancing it by view.chunks) and
// the function kernels use to reach its elements by flat index:
//   read-only:  fn load_<name>(i: u32) -> f32
//   output:     fn store_<name>(i: u32, v: f32)     (outputs are always F32)
// Kernels never touch the bindings directly, so one kernel source serves every storage and split.
std::string bind_tensor(const std::string& name, const TensorView& view, bool output, uint32_t& next_binding);
// An output the kernel also reads (an op in place): both load_<name> and store_<name>.
std::string bind_tensor_in_place(const std::string& name, const TensorView& view, uint32_t& next_binding);

// What bind_tensor's text depends on, for pipeline cache keys.
std::string view_key(const TensorView& view);

}  // namespace websd::wgsl
