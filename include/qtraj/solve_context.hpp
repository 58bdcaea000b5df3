#pragma once
// What a caller hands a solve besides the run: a progress callback, a stop request and the
// processes of the run. The solvers read no process-wide state of their own, so two solves in two
// threads of one process are independent: each gets the result it gets alone, bit for bit
// (tests/trajectory/solve_concurrency_test.cpp). What belongs to the process is set up by the
// program: OpenBLAS's kernels once at start (exact::initialize_blas), the signal handlers and the
// MPI session (the CLI, src/cli/); OpenBLAS's one thread count is handed out by
// exact::BlasThreads (include/qtraj/exact/dense_kernels.hpp).
#include <atomic>
#include <functional>
#include <string>

#include "qtraj/error.hpp"

namespace qtraj {

namespace backend {
class Communicator;
}

/// Progress callback: fraction done in [0, 1] and a short status text. May be empty.
using ProgressFn = std::function<void(double fraction, const std::string& status)>;

/// A request to stop a running solve, made from another thread or from a signal handler:
/// request() stores lock-free atomics only, so it is async-signal-safe. A solve that sees it
/// stops at its next check (trajectories: before the next trajectory, within 1024 jumps of a
/// long one, or before the next sector eigendecomposition of a set-up; the other solvers: after
/// their next step; docs/configuration.md, "Stop signals"), writes a last checkpoint where a
/// trajectory run writes checkpoints, and throws Interrupted. A request that comes after the work is done is ignored.
class StopRequest {
 public:
  /// `signal`: the signal that asked (SIGINT, SIGTERM), 0 for a plain request.
  void request(int signal = 0) noexcept {
    signal_.store(signal);
    flag_.store(true);
  }
  bool requested() const noexcept { return flag_.load(); }
  int signal() const noexcept { return signal_.load(); }
  /// The flag itself, for the trajectory backends' workers.
  const std::atomic<bool>& flag() const noexcept { return flag_; }

 private:
  static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
                "a signal handler calls request()");
  std::atomic<bool> flag_{false};
  std::atomic<int> signal_{0};
};

/// A solve stopped by a StopRequest (after writing its checkpoint, where it writes one).
/// exit_code() = 128 + the signal, 130 (as SIGINT) for a plain request.
class Interrupted : public Error {
 public:
  Interrupted(const std::string& what, int signal) : Error(what), signal_(signal) {}
  int exit_code() const { return 128 + (signal_ > 0 ? signal_ : 2); }
  int signal() const { return signal_; }

 private:
  int signal_;
};

struct SolveContext {
  /// Called on the solve's own thread (never concurrently with itself); may be empty.
  ProgressFn progress;
  /// Null: the solve is never stopped. The request must outlive the solve.
  const StopRequest* stop = nullptr;
  /// The processes of an MPI run (trajectories only; the CLI's ParallelSession owns it). Null:
  /// this process alone.
  backend::Communicator* comm = nullptr;
};

/// "interrupted by SIGTERM", "interrupted by signal N", or "stopped on request" (signal 0).
std::string stop_reason(int signal);

/// The callback a solver reports through: context.progress (if any), after throwing
/// Interrupted("<solver>: stopped on request ...") when context.stop was requested and the
/// fraction is below 1. Empty when the context has neither. It refers to `context`: use it only
/// while the context lives (within the solve).
ProgressFn progress_or_stop(const SolveContext& context, const std::string& solver);

}  // namespace qtraj
