#include "backend/webgpu/buffer_pool.h"

#include <algorithm>
#include <bit>

namespace websd {
namespace {

// In the denoising loop a request takes the smallest pooled buffer of up to this many times its
// size class: a step's many sizes then share a few buffers (SD 1.5's UNet step: 996 MiB held
// beside the weights at exact sizes, 716 with size classes, 324 with this; the live tensors are
// 171 MiB and the tensor-core scratch up to 144 MiB more), and since every step asks in the same
// order, the second step allocates what the first left short, if anything, and later ones
// nothing. A run-once stage (Reuse::Once) takes its own size class only, because its idle buffers
// are given back instead (the SD 1.5 decode held 880 MiB beside the weights with the slack,
// 752 without).
constexpr uint64_t kRepeatingSlack = 4;

// Four classes per power of two (whole 16 bytes below 64).
uint64_t size_class(uint64_t bytes) {
  if (bytes <= 64) return (bytes + 15) / 16 * 16;
  const uint64_t step = std::bit_floor(bytes) / 4;
  return (bytes + step - 1) / step * step;
}

}  // namespace

BufferPool::~BufferPool() { trim(); }

uint32_t BufferPool::acquire(uint64_t requested, Fit fit) {
  const uint64_t bytes =
      fit == Fit::Exact ? requested : std::max(requested, std::min(size_class(requested), max_buffer_bytes_));
  in_use_ += static_cast<int64_t>(requested);
  const uint64_t largest = fit == Fit::Exact || evict_idle_ ? bytes : bytes * kRepeatingSlack;
  if (auto it = free_.lower_bound({bytes, 0}); it != free_.end() && it->first.first <= largest) {
    const uint32_t id = it->first.second;
    idle_order_.erase(it->second);
    free_.erase(it);
    return id;
  }
  // Pooled bytes make room for this buffer rather than adding to what is held.
  for (int64_t given = 0; evict_idle_ && given < static_cast<int64_t>(bytes) && !idle_order_.empty();) {
    auto it = free_.find(idle_order_.begin()->second);
    given += static_cast<int64_t>(it->first.first);
    destroy(it);
  }
  const uint32_t id = host_->create_buffer(bytes);
  capacity_[id] = bytes;
  held_ += static_cast<int64_t>(bytes);
  peak_ = std::max(peak_, held_);
  return id;
}

void BufferPool::release(uint32_t id, uint64_t requested) noexcept {
  in_use_ -= static_cast<int64_t>(requested);
  const Pooled pooled{capacity_.find(id)->second, id};
  free_.emplace(pooled, releases_);
  idle_order_.emplace(releases_++, pooled);
}

void BufferPool::destroy(std::map<Pooled, uint64_t>::iterator it) noexcept {
  host_->destroy_buffer(it->first.second);
  capacity_.erase(it->first.second);
  held_ -= static_cast<int64_t>(it->first.first);
  idle_order_.erase(it->second);
  free_.erase(it);
}

void BufferPool::trim() noexcept {
  while (!free_.empty()) destroy(free_.begin());
}

}  // namespace websd
