#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace websd {

// A range of a host buffer bound to a kernel; size 0 means "to the end of the buffer".
struct GpuBinding {
  uint32_t buffer = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

// The device limits the kernels are shaped by (WebGPU's defaults until the host reports its own).
struct GpuLimits {
  uint32_t max_workgroups_per_dimension = 65535;
  uint64_t max_storage_buffer_binding_size = 128ull << 20;
  uint64_t max_buffer_size = 256ull << 20;
  uint32_t max_storage_buffers_per_shader_stage = 8;
  uint32_t max_workgroup_storage = 16384;  // maxComputeWorkgroupStorageSize
  // shader-f16 and float16 subgroup matrices of 16×16×16 in subgroups of one width, and the host
  // allows their use (kernels/tensor_core_gemm.h).
  bool tensor_cores = false;
  uint32_t subgroup_size = 0;  // the adapter's widest subgroup; 0 if unknown
};

// What the WebGPU backend needs from a GPU: the C++ face of web/host/gpu_host.mjs (integer handles,
// plain bytes), so the backend is plain C++ and can be driven by a fake host in native tests.
// Every call throws websd::Error with the host's message when the host reports a failure.
class GpuHost {
 public:
  virtual ~GpuHost() = default;
  virtual uint32_t create_buffer(uint64_t bytes) = 0;
  // Must not throw: it runs from DeviceBuffer destructors. A failure surfaces at the next call.
  virtual void destroy_buffer(uint32_t id) noexcept = 0;
  virtual void write_buffer(uint32_t id, uint64_t offset, std::span<const uint8_t> bytes) = 0;
  // Writes bytes the host holds under a staging id (a weight shard it fetched: web/host's
  // stageBytes), so they go to the GPU without passing through the engine's memory.
  virtual void write_buffer_staged(uint32_t /*id*/, uint64_t /*offset*/, uint32_t staged, uint64_t /*staged_offset*/,
                                   uint64_t /*bytes*/) {
    throw Error("gpu host: staging id " + std::to_string(staged) + ": this host keeps no staged bytes");
  }
  // `name` names the kernel in the host's profile (the backend passes its pipeline cache key).
  virtual uint32_t create_pipeline(const std::string& wgsl, const std::string& entry_point, const std::string& name) = 0;
  // Bindings are group 0, bindings 0..n-1; non-empty uniforms become binding n.
  virtual void dispatch(uint32_t pipeline, std::span<const GpuBinding> bindings, std::span<const uint8_t> uniforms,
                        uint32_t x, uint32_t y, uint32_t z) = 0;
  virtual void flush() = 0;
  // Waits for the GPU (the JS host's readBuffer is async; the wasm build suspends on it).
  virtual std::vector<uint8_t> read_buffer(uint32_t id, uint64_t offset, uint64_t bytes) = 0;
  virtual GpuLimits limits() const = 0;
};

}  // namespace websd
