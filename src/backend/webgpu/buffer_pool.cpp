#include "backend/webgpu/buffer_pool.h"

#include <algorithm>

namespace websd {

BufferPool::~BufferPool() { trim(); }

uint32_t BufferPool::acquire(uint64_t bytes) {
  in_use_ += static_cast<int64_t>(bytes);
  if (auto it = free_.find(bytes); it != free_.end()) {
    const uint32_t id = it->second.id;
    idle_order_.erase(it->second.since);
    free_.erase(it);
    return id;
  }
  // Pooled bytes make room for this buffer rather than adding to what is held.
  for (int64_t given = 0; evict_idle_ && given < static_cast<int64_t>(bytes) && !idle_order_.empty();) {
    const auto [since, size] = *idle_order_.begin();
    auto it = free_.find(size);
    while (it->second.since != since) ++it;
    given += static_cast<int64_t>(size);
    destroy(it);
  }
  const uint32_t id = host_->create_buffer(bytes);
  held_ += static_cast<int64_t>(bytes);
  peak_ = std::max(peak_, held_);
  return id;
}

void BufferPool::release(uint32_t id, uint64_t bytes) noexcept {
  in_use_ -= static_cast<int64_t>(bytes);
  free_.emplace(bytes, Idle{id, releases_});
  idle_order_.emplace(releases_++, bytes);
}

void BufferPool::destroy(std::multimap<uint64_t, Idle>::iterator it) noexcept {
  host_->destroy_buffer(it->second.id);
  held_ -= static_cast<int64_t>(it->first);
  idle_order_.erase(it->second.since);
  free_.erase(it);
}

void BufferPool::trim() noexcept {
  while (!free_.empty()) destroy(free_.begin());
}

}  // namespace websd
