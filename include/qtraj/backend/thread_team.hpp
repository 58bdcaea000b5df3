#pragma once
// ThreadTeam: a team (team.hpp) of several std::threads, host only. Used by the tests to run the
// block-level trajectory math (strided loops, syncs, reductions) with real concurrency on a CPU,
// the way a CUDA thread block runs it.
//
// reduce_sum: each rank writes its value to scratch[rank]; barrier; every rank sums scratch[0..size)
// in rank order (so all ranks get the same bits); barrier (scratch may be reused afterwards).
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qtraj::trajectory {

/// A reusable barrier for a fixed number of threads (std::barrier is C++20).
class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const unsigned long gen = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_;
  int arrived_ = 0;
  unsigned long generation_ = 0;
};

/// State shared by the members of one ThreadTeam.
struct ThreadTeamShared {
  explicit ThreadTeamShared(int size) : barrier(size), scratch(static_cast<std::size_t>(size)) {}
  Barrier barrier;
  std::vector<double> scratch;
};

class ThreadTeam {
 public:
  ThreadTeam(ThreadTeamShared& shared, int rank)
      : shared_(&shared), rank_(rank), size_(static_cast<int>(shared.scratch.size())) {}
  int rank() const { return rank_; }
  int size() const { return size_; }
  void sync() { shared_->barrier.arrive_and_wait(); }
  double reduce_sum(double v) {
    shared_->scratch[rank_] = v;
    sync();
    double s = 0.0;
    for (int r = 0; r < size_; ++r) s += shared_->scratch[r];
    sync();
    return s;
  }

 private:
  ThreadTeamShared* shared_;
  int rank_, size_;
};

/// Runs body(team) on `size` threads forming one team; returns when all have finished.
inline void run_thread_team(int size, const std::function<void(ThreadTeam&)>& body) {
  ThreadTeamShared shared(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&shared, &body, r] {
      ThreadTeam team(shared, r);
      body(team);
    });
  for (auto& t : threads) t.join();
}

}  // namespace qtraj::trajectory
