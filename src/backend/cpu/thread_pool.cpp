#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <exception>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define WEBSD_CPU_THREADS 0
#else
#define WEBSD_CPU_THREADS 1
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace websd::cpu {
namespace {

thread_local bool t_inside_parallel_for = false;

// Marks the current thread as running ranges, so a nested parallel_for runs inline.
struct InsideGuard {
  bool saved = t_inside_parallel_for;
  InsideGuard() { t_inside_parallel_for = true; }
  ~InsideGuard() { t_inside_parallel_for = saved; }
};

void run_inline(int64_t n, int64_t grain, detail::ChunkFn fn, void* ctx) {
  InsideGuard guard;
  for (int64_t b = 0; b < n; b += grain) fn(ctx, b, std::min(n, b + grain));
}

}  // namespace

int thread_count() {
#if WEBSD_CPU_THREADS
  static const int count = [] {
    if (const char* env = std::getenv("WEBSD_THREADS")) {
      const int n = std::atoi(env);
      if (n > 0) return n;
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return count;
#else
  return 1;
#endif
}

#if WEBSD_CPU_THREADS
namespace {

struct Job {
  Job(detail::ChunkFn f, void* c, int64_t count, int64_t g) : fn(f), ctx(c), n(count), grain(g), chunks((n + g - 1) / g) {}

  detail::ChunkFn fn;
  void* ctx;
  int64_t n, grain, chunks;
  std::atomic<int64_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;

  void run_chunks() {
    InsideGuard guard;
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      try {
        fn(ctx, c * grain, std::min(n, (c + 1) * grain));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  }
};

// Workers sleep on a condition variable between jobs (the cores are shared with other work, so
// no spinning); the submitting thread works through the ranges too, then waits for the workers.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  void run(Job& job) {
    std::lock_guard one_job_at_a_time(submit_mutex_);  // several threads may drive backends at once
    {
      std::lock_guard lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.run_chunks();
    std::unique_lock lock(mutex_);
    job_ = nullptr;  // a worker that wakes late must not join a finished job
    done_.wait(lock, [&] { return busy_ == 0; });
  }

 private:
  void work() {
    uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      Job* job = job_;
      if (!job) continue;
      ++busy_;
      lock.unlock();
      job->run_chunks();
      lock.lock();
      if (--busy_ == 0) done_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex submit_mutex_, mutex_;
  std::condition_variable wake_, done_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  int busy_ = 0;
  bool stopping_ = false;
};

}  // namespace
#endif

void detail::parallel_for(int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
#if WEBSD_CPU_THREADS
  if (n > grain && !t_inside_parallel_for && thread_count() > 1) {
    static Pool pool(thread_count());
    Job job(fn, ctx, n, grain);
    pool.run(job);
    if (job.error) std::rethrow_exception(job.error);
    return;
  }
#endif
  run_inline(n, grain, fn, ctx);
}

}  // namespace websd::cpu
