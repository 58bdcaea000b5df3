#pragma once
// Sector-batched ("wavefront") spectral trajectories, host side (docs/design.md section 3.3).
//
// The spectral propagator (spectral_propagator.hpp) spends its time in two dense products per
// no-jump segment of a trajectory in sector n (d = d_n):
//   load:    c = V_n^T psi                       (once per segment)
//   evolve:  x = V_n diag(exp(-l s)) c           (once per output time, and at the jump).
// Trajectories that sit in the same sector share V_n. The engine advances a batch of trajectories
// event by event; at each step it gathers the vectors that need a product with the same V_n (or
// V_n^T) as the columns of one d x k matrix and does ONE matrix-matrix product (ordered_gemm),
// so V_n is streamed once for all k columns instead of once per column. All scalar work stays
// per trajectory and is the spectral propagator's own code (find_crossing, scaled_coefficients,
// apply_channel, record_observables, the Philox draws in the same order as run_trajectory).
//
// Guarantee: ordered_gemm sums every output element over the inner index in ascending order, one
// rounded product added at a time, exactly as the mat-vec loops of SpectralPropagator; so each
// trajectory is BIT-IDENTICAL to run_trajectory with the spectral propagator (same jumps, same
// jump times, same observables), whatever the batch it is in (tested, tests/trajectory/
// sector_batched_test.cpp). Aggregated results are then bit-identical to the per-trajectory path.
// This needs both sides to round alike: sector_batched.cpp and src/backend/cpu_trajectories.cpp are
// compiled without FMA contraction (CMakeLists.txt), which -march=native builds would otherwise
// apply differently to the two (checked with a -march=native build of the test).
// The per-trajectory steps are QTRAJ_HD functions (batched_step.hpp) shared with the CUDA engine
// (kernels/sector_batch_kernels.cu), which groups the columns on the device and multiplies them
// with an ordered GEMM kernel of the same summation order.

#include <atomic>
#include <cstdint>
#include <vector>

#include "qtraj/trajectory/philox.hpp"
#include "qtraj/trajectory/system_view.hpp"

namespace qtraj::trajectory {

/// Y = A X with A row-major d x d and X, Y row-major d x k (column j of X is the vector
/// X[b k + j], b = 0..d-1):  Y[a k + j] = sum_{b = 0}^{d-1} A[a d + b] X[b k + j], the sum taken
/// in ascending b from 0.0, one product at a time (the order of SpectralPropagator's mat-vecs:
/// the result of each column does not depend on k or on the other columns). Vectorised across
/// columns (register tiles of 2 rows x 8 columns).
void ordered_gemm(const double* a, int d, const double* x, int k, double* y);

/// One trajectory of a batch: what the caller sets (in) and what the engine writes (out).
struct BatchedTrajectory {
  // in
  const SystemView* sys = nullptr;  // its bundle (spectral data required)
  PhiloxStream rng{0, 0};           // positioned after the initial draws (components, sector)
  int sector = 0;                   // starting sector n
  const double* start_re = nullptr;  // normalised P_n psi (length d_n)
  const double* start_im = nullptr;  // read only when complex_state
  bool complex_state = false;
  bool record_jumps = false;  // keep every jump's time and channel
  double* obs = nullptr;      // out: num_times x 2M, as TrajectoryOutput::obs
  // out
  int jumps = 0;
  std::vector<int> channel_counts;  // C
  std::vector<double> jump_time;    // record_jumps only
  std::vector<int> jump_channel;
};

/// Runs batches of spectral trajectories to times.back(), sector-batched. Keeps its buffers
/// between calls (no allocation once warm). Not thread-safe: one engine per worker thread.
class SectorBatchedEngine {
 public:
  /// times: the output grid (ascending, times[0] >= 0). rows_per_step: output times a trajectory
  /// contributes per step at most (bounds the column buffers: (rows_per_step + 1) x 2 d doubles
  /// per trajectory).
  explicit SectorBatchedEngine(std::vector<double> times, int rows_per_step = 8);
  ~SectorBatchedEngine();
  SectorBatchedEngine(const SectorBatchedEngine&) = delete;
  SectorBatchedEngine& operator=(const SectorBatchedEngine&) = delete;

  /// Runs every trajectory of `batch` to the end. Each one's output equals run_trajectory's with
  /// SpectralPropagator for the same system, rng and start (bit for bit). `stop` (optional): when
  /// it becomes true the run returns at the end of its current step (every trajectory one more
  /// load, emit and consume), the batch unfinished: its outputs must not be used.
  void run(std::vector<BatchedTrajectory>& batch, const std::atomic<bool>* stop = nullptr);

  /// Products done in the last run() and the columns they had; output rows copied from a dark
  /// (stationary) row (for tests and benchmarks).
  std::int64_t products() const { return products_; }
  std::int64_t columns() const { return columns_; }
  std::int64_t copied_rows() const { return copied_rows_; }

 private:
  struct Slot;
  struct Group {
    const double* matrix;  // row-major d x d (V_n or V_n^T)
    int d;
    std::vector<int> slots;      // slot of each column block, in column order
    std::vector<int> first_col;  // first column of that block
    int k = 0;
  };
  int group_of(const double* matrix, int d);
  void multiply_groups();
  void gather_and_multiply(std::vector<BatchedTrajectory>& batch, int phase);

  std::vector<double> times_;
  int rows_per_step_;
  std::vector<Slot> slots_;
  std::vector<Group> groups_;
  int num_groups_ = 0;
  std::vector<double> x_, y_;  // packed columns of the group being multiplied
  std::int64_t products_ = 0, columns_ = 0, copied_rows_ = 0;
};

}  // namespace qtraj::trajectory
