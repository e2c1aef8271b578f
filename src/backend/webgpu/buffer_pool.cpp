#include "backend/webgpu/buffer_pool.h"

#include <algorithm>

namespace websd {

BufferPool::~BufferPool() { trim(); }

uint32_t BufferPool::acquire(uint64_t bytes) {
  auto it = free_.find(bytes);
  uint32_t id = 0;
  if (it != free_.end()) {
    id = it->second;
    free_.erase(it);
  } else {
    id = host_->create_buffer(bytes);
    held_ += static_cast<int64_t>(bytes);
    peak_ = std::max(peak_, held_);
  }
  in_use_ += static_cast<int64_t>(bytes);
  return id;
}

void BufferPool::release(uint32_t id, uint64_t bytes) noexcept {
  in_use_ -= static_cast<int64_t>(bytes);
  free_.emplace(bytes, id);
}

void BufferPool::trim() noexcept {
  for (const auto& [bytes, id] : free_) {
    host_->destroy_buffer(id);
    held_ -= static_cast<int64_t>(bytes);
  }
  free_.clear();
}

}  // namespace websd
