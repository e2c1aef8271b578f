#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "backend/webgpu/gpu_host.h"

namespace websd {

// The WebGPU backend's memory planner. A tensor's buffers come back here when its last Tensor
// dies (its liveness ends), and a later request takes a pooled buffer instead of a new
// allocation: after the first denoising steps, the steps that follow (same shapes, same order)
// allocate nothing. Requests are rounded up to a size class (four per power of two, at most a
// quarter more) and, in the denoising loop, may take a pooled buffer a few classes larger
// (kRepeatingSlack), so that a step's many sizes and the tensor-core kernels' scratch share
// buffers instead of each size keeping its own; weights, which live as long as their model, take
// exactly their size. With evict_idle set (Backend::Reuse::Once), a request that no pooled buffer
// fits first gives back pooled buffers, the longest idle first, as many bytes as it needs; not in
// the denoising loop, where evicting in the first step would make every later step reallocate.
// WebGPU runs a queue's work in order, so a buffer freed on the host can be handed to the next
// kernel (or destroyed: Dawn keeps it until the work that uses it is done) while earlier kernels
// that read it are pending.
class BufferPool {
 public:
  // No buffer is made larger than max_buffer_bytes (the device's maxBufferSize) by the rounding.
  BufferPool(std::shared_ptr<GpuHost> host, uint64_t max_buffer_bytes)
      : host_(std::move(host)), max_buffer_bytes_(max_buffer_bytes) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  enum class Fit { Rounded, Exact };
  // A buffer of at least `bytes` (of exactly `bytes` with Fit::Exact).
  uint32_t acquire(uint64_t bytes, Fit fit = Fit::Rounded);
  void release(uint32_t id, uint64_t bytes) noexcept;
  // Gives the pooled (free) buffers back to the device.
  void trim() noexcept;
  void set_evict_idle(bool evict) { evict_idle_ = evict; }

  GpuHost& host() { return *host_; }
  int64_t held_bytes() const { return held_; }      // every buffer, in use or pooled
  int64_t in_use_bytes() const { return in_use_; }  // the bytes requested of the buffers in use
  int64_t peak_held_bytes() const { return peak_; }
  void reset_peak() { peak_ = held_; }

 private:
  std::shared_ptr<GpuHost> host_;
  uint64_t max_buffer_bytes_;
  // A pooled buffer: its bytes, then its id, so that of equal sizes the lowest id is taken. Never
  // the longest or shortest idle: a step, or a whole generation, that asks in the same order as
  // the one before then gets the very same buffers, and the GPU host's bind groups (keyed by
  // buffers) are reused instead of made anew every run.
  using Pooled = std::pair<uint64_t, uint32_t>;
  void destroy(std::map<Pooled, uint64_t>::iterator it) noexcept;

  std::map<Pooled, uint64_t> free_;       // pooled buffer → release order
  std::map<uint64_t, Pooled> idle_order_;  // release order → pooled buffer, for the longest idle
  std::unordered_map<uint32_t, uint64_t> capacity_;  // buffer → its bytes
  uint64_t releases_ = 0;
  int64_t held_ = 0, in_use_ = 0, peak_ = 0;
  bool evict_idle_ = false;
};

}  // namespace websd
