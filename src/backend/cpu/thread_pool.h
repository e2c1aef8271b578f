#pragma once
#include <cstdint>

namespace websd::cpu {

// How many threads parallel_for spreads work over, the calling thread included:
// std::thread::hardware_concurrency(), or the WEBSD_THREADS environment variable when it is set
// (to leave cores to other work); always 1 in a build without threads (WebAssembly without pthreads).
int thread_count();

namespace detail {
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);
void parallel_for(int64_t n, int64_t grain, ChunkFn fn, void* ctx);
}  // namespace detail

// Calls fn(begin, end) on consecutive ranges of at most `grain` items that together cover [0, n),
// on the calling thread and the pool's workers, and returns once all are done. Runs everything
// on the calling thread when n <= grain, with a single thread, or when called from inside another
// parallel_for (so kernels may nest without deadlock). The first exception a range throws is
// rethrown here after the others finish.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& fn) {
  detail::parallel_for(
      n, grain, [](void* ctx, int64_t begin, int64_t end) { (*static_cast<decltype(&fn)>(ctx))(begin, end); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace websd::cpu
