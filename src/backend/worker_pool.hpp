#pragma once
// Internal to the CPU backends (cpu_trajectories.cpp, cpu_sector_batched.cpp): a pool of
// std::threads over a run's chunks, with progress reports and error propagation.
//
// Contract: body(k) runs once on each of `threads` threads (k = 0 .. threads - 1) and takes chunks
// itself (e.g. from an atomic counter); it adds finished trajectories to pool.done, and returns early
// once pool.failed or the stop request is set. The first exception thrown by any body is rethrown
// by run() after every thread has been joined (the others stop at their next check of failed).
// While the threads work, progress(done / total, status) is called every 0.5 s on the calling
// thread, and once at 1.0 when the run finished without a stop request; a throwing progress
// callback stops the workers, joins them and is rethrown.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

class WorkerPool {
 public:
  std::atomic<std::int64_t> done{0};  // trajectories finished, for the progress line
  std::atomic<bool> failed{false};    // a worker threw (or the progress callback did)

  /// Threads for a run: settings.threads (0: every hardware thread), at most one per trajectory
  /// and per chunk, at least one.
  static int thread_count(int requested, std::int64_t trajectories, std::int64_t chunks) {
    const int threads = resolve_thread_count(requested);
    return static_cast<int>(
        std::max<std::int64_t>(1, std::min<std::int64_t>({threads, trajectories, chunks})));
  }

  template <class Body, class Stopped>
  void run(int threads, std::int64_t total, Body body, Stopped stopped, const ProgressFn& progress) {
    std::exception_ptr error;
    std::mutex error_mutex;
    auto guarded = [&](int k) {
      try {
        body(k);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    };
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back(guarded, k);
    if (progress) try {
      auto last = t0;
      while (done.load() < total && !failed && !stopped()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = std::chrono::steady_clock::now();
        if (now - last >= std::chrono::milliseconds(500)) {
          last = now;
          const double secs = std::chrono::duration<double>(now - t0).count();
          const std::int64_t d = done.load();
          progress(static_cast<double>(d) / total, format_status(d, total, secs));
        }
      }
    } catch (...) {  // a throwing callback: stop the workers, join them, then report
      failed = true;
      for (auto& th : pool) th.join();
      throw;
    }
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
    if (progress && !stopped()) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress(1.0, format_status(total, total, secs));
    }
  }
};

}  // namespace qtraj::backend
