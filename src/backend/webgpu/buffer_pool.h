#pragma once
#include <cstdint>
#include <map>
#include <memory>

#include "backend/webgpu/gpu_host.h"

namespace websd {

// The WebGPU backend's memory planner. A tensor's buffers come back here when its last Tensor
// dies (its liveness ends), and the next request for the same size takes them instead of a new
// allocation: after the first denoising step, the steps that follow (same shapes, same order)
// allocate nothing. WebGPU runs a queue's work in order, so a buffer freed on the host can be
// handed to the next kernel while earlier kernels that read it are still pending.
class BufferPool {
 public:
  explicit BufferPool(std::shared_ptr<GpuHost> host) : host_(std::move(host)) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  uint32_t acquire(uint64_t bytes);
  void release(uint32_t id, uint64_t bytes) noexcept;
  // Gives the pooled (free) buffers back to the device.
  void trim() noexcept;

  GpuHost& host() { return *host_; }
  int64_t held_bytes() const { return held_; }    // every buffer, in use or pooled
  int64_t in_use_bytes() const { return in_use_; }
  int64_t peak_held_bytes() const { return peak_; }
  void reset_peak() { peak_ = held_; }

 private:
  std::shared_ptr<GpuHost> host_;
  std::multimap<uint64_t, uint32_t> free_;  // bytes → buffer
  int64_t held_ = 0, in_use_ = 0, peak_ = 0;
};

}  // namespace websd
