#pragma once
// The CUDA trajectory backend, host API (docs/design.md section 3, docs/cuda.md section 2). Plain
// C++: no CUDA header needed to use it. A build with QTRAJ_BUILD_CUDA=ON implements it in
// kernels/trajectory_batch_runner.cu; a CPU-only build links
// src/backend/device_hooks/cuda_stubs.cpp, where every entry point throws qtraj::NotCompiled
// (Ginkgo's device hooks). run_ensemble()'s pipeline is emulated on the CPU by
// tests/backend/ensemble_reduction_test.cpp.
//
// What it does: trajectory t of a run is a pure function of (seed, t) (PhiloxStream(seed, t), the
// same draws in the same order as the CPU backend, src/backend/cpu_trajectories.cpp). The runner uploads
// the flat bundle data (every array of each bundle's SystemView, the sector probabilities and the
// sector-normalised initial state) once, then runs batches of consecutive trajectory indices,
// one trajectory per thread block, with the very same run_trajectory<Team, Propagator> code as the
// CPU (team = the block). Two ways to get results:
//   run():          each trajectory's TrajectoryOutput copied back (tests, reruns of long jump
//                   records; the host would aggregate them like CPU trajectories);
//   run_ensemble(): a whole run of fixed chunks aggregated on the device (the solver's path,
//                   docs/cuda.md section 2): per chunk (count, mean, M2), the jump-count
//                   histogram and the jump records of the first `record` trajectories are all
//                   that comes back.
//
// How the caller wires it into solve_trajectories (what must be provided):
//   1. the bundles: one TrajectorySystem per initial-component choice that a trajectory of the run
//      can draw (every choice with positive weight product: drawable_choices below), built with spectral = true for the
//      spectral propagator or adaptive = true for the adaptive one (the Krylov propagator needs
//      only the ladder tables: any bundle, lean ones included), all from the same Model and
//      collapse_channels(model), and alive while the runner lives (the runner keeps no pointer to
//      them after construction, but reads them during it);
//   2. the component weights exactly as the CPU backend passes them to draw_components:
//      weights = all domains' DomainComponent::weight concatenated, weight_begin (M + 1 entries);
//   3. per batch: the trajectory range [first, first + count), the seed, the propagator settings,
//      the output grid (ascending, times[0] >= 0), the jump capacity K and record_end (trajectories
//      t < record_end store their first K jumps, the others none: the CPU's `t < record`).
// What comes back (BatchOutput, host vectors, trajectory r = t - first):
//   obs            count x num_times x 2M doubles, row-major: obs[(r * num_times + k) * 2M + q],
//                  q < M: <J_q^z>, q >= M: <J_{q-M}^+ J_{q-M}^->, normalised, at times[k]
//                  (exactly the CPU worker's `obs` buffer of trajectory t, so
//                  aggregator.add(out.obs_of(r)) is the CPU's chunks[c].add(w.obs.data()));
//   jumps          count ints: the trajectory's total number of jumps;
//   channel_counts count x C ints: jumps per collapse channel (C = collapse_channels order);
//   jump_time      count x K doubles, jump_channel count x K ints: the first min(jumps, K) jumps
//                  of each trajectory with t < record_end (unused slots are left unspecified).
//   If a recorded trajectory has jumps > K, rerun just it with a larger K (run(t, 1, ...)): it
//   reproduces the same trajectory (the CPU backend's grow-and-rerun).
// Device memory per batch: count * (8 (num_times 2M + K) + 4 (1 + C + K)) bytes plus the bundles;
// choose count accordingly (1e5 trajectories x 41 times x 6 values = 197 MB).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qtraj/trajectory/propagators.hpp"

namespace qtraj::trajectory {
class TrajectorySystem;
}

namespace qtraj::cuda {

/// Which no-jump propagator the kernel runs (include/qtraj/trajectory/*_propagator.hpp). krylov:
/// kernels/krylov_kernel.cu (docs/krylov.md, "CUDA").
struct PropagatorSettings {
  using Kind = trajectory::PropagatorKind;  // the shared kinds (qtraj/trajectory/propagators.hpp)
  Kind kind = Kind::spectral;
  double rtol = 1e-8;   // adaptive and krylov
  double atol = 1e-10;  // adaptive and krylov
  int max_basis = trajectory::kKrylovMaxBasis;  // krylov only: largest Lanczos basis, 2..40
  /// What with_propagator constructs the kernel's prototype from.
  trajectory::PropagatorParams params() const { return {rtol, atol, max_basis}; }
};

/// Where each block's TrajectoryWorkspace lives.
enum class WorkspacePlacement {
  automatic,  // shared memory when doubles_needed(max_dim, C) * 8 bytes fit the opt-in limit
  shared,     // force shared memory (throws DeviceError if it does not fit)
  global      // force a per-block slice of a global scratch buffer
};

struct LaunchSettings {
  int device = -1;      // CUDA device ordinal; -1 = the current device
  int block_size = 0;   // threads per block (spectral kernel: 1..256, __launch_bounds__; adaptive: as
                        // its registers allow); 0 = automatic (see block_size_for)
  int max_blocks = 0;   // cap on the grid (grid-stride beyond it); 0 = occupancy-limited grid
  WorkspacePlacement placement = WorkspacePlacement::automatic;
  // run() with the spectral propagator: the sector-batched engine (kernels/sector_batch_kernels.cuh)
  // instead of one trajectory per block (run_ensemble: EnsembleRequest::batch_sectors).
  bool sector_batched = false;
};

/// One bundle of the run and the component choice (one component index per domain) it belongs to.
struct BundleEntry {
  std::vector<int> choice;
  const trajectory::TrajectorySystem* system = nullptr;
};

/// Every component choice whose weights are all positive: the bundles a run can draw (build one
/// TrajectorySystem per choice for the multi-bundle constructor). Lexicographic order, domain 0
/// most significant. weight_begin has M + 1 offsets into weights (as for draw_components).
inline std::vector<std::vector<int>> drawable_choices(const std::vector<double>& weights,
                                                      const std::vector<int>& weight_begin) {
  const int m = static_cast<int>(weight_begin.size()) - 1;
  std::vector<std::vector<int>> out;
  if (m < 1) return out;
  for (int i = 0; i < m; ++i)
    if (weight_begin[i + 1] <= weight_begin[i]) return out;
  std::vector<int> choice(m, 0);
  for (;;) {
    bool positive = true;
    for (int i = 0; i < m; ++i) positive = positive && weights[weight_begin[i] + choice[i]] > 0.0;
    if (positive) out.push_back(choice);
    int i = m - 1;
    while (i >= 0 && ++choice[i] == weight_begin[i + 1] - weight_begin[i]) choice[i--] = 0;
    if (i < 0) return out;
  }
}

/// Per-trajectory results of one batch (layout above).
struct BatchOutput {
  std::int64_t first = 0, count = 0;
  int num_times = 0;
  int row = 0;  // 2M values per output time
  int num_channels = 0;
  int jump_capacity = 0;
  std::vector<double> obs;
  std::vector<int> jumps;
  std::vector<int> channel_counts;
  std::vector<double> jump_time;
  std::vector<int> jump_channel;

  const double* obs_of(std::int64_t r) const { return obs.data() + r * num_times * row; }
  const int* channel_counts_of(std::int64_t r) const {
    return channel_counts.data() + r * num_channels;
  }
  const double* jump_time_of(std::int64_t r) const { return jump_time.data() + r * jump_capacity; }
  const int* jump_channel_of(std::int64_t r) const {
    return jump_channel.data() + r * jump_capacity;
  }
};

/// What the last run() launched (for logs, tests and benchmarks).
struct LaunchInfo {
  int device = 0;
  int block_size = 0;
  int grid_size = 0;
  long long workspace_bytes = 0;  // per block: doubles_needed(max_dim, C) * 8
  bool shared_workspace = false;  // true: extern __shared__, false: global scratch slice
  int max_shared_optin = 0;       // cudaDevAttrMaxSharedMemoryPerBlockOptin of the device
  double kernel_ms = 0.0;         // kernel time of the last batch (CUDA events)
};

/// A whole run (or shard) of fixed chunks, aggregated on the device (run_ensemble).
struct EnsembleRequest {
  std::int64_t first = 0;                 // global index of local trajectory 0 (Philox key)
  std::vector<std::int64_t> chunk_begin;  // local chunk offsets: num_chunks + 1, from 0, ascending
  std::uint64_t seed = 0;
  PropagatorSettings propagator;
  std::vector<double> times;              // the output grid (ascending, times[0] >= 0)
  std::int64_t record = 0;                // local t < record: jump records (may exceed the run)
  int record_capacity = 64;               // jump slots per recorded trajectory (longer: rerun)
  std::vector<int> channel_reservoir;     // C: reservoir index of each collapse channel
  int num_reservoirs = 0;
  std::int64_t max_batch = 0;             // cap on trajectories per batch (0: device memory decides)
  // Spectral propagator only: run each batch with the sector-batched engine
  // (kernels/sector_batch_kernels.cuh: trajectories in the same sector share one ordered GEMM with
  // V_n per step) instead of one trajectory per block. Same outputs to rounding (1e-12 relative).
  bool batch_sectors = false;
  // Chunk groups (docs/cuda.md section 2): one call runs the whole request through one
  // double-buffered pipeline, yet hands results over group by group. group_end: where each group
  // ends (local chunk indices, strictly ascending, the last = num_chunks); empty: one group of all
  // chunks. No batch crosses a group end (plan_grouped_batches), so each group has a histogram of
  // its own.
  std::vector<std::int64_t> group_end;
  // When set and true: no further batch is launched; the batches in flight are finished and
  // handed over, and run_ensemble returns (EnsembleInfo::stopped). Groups not complete by then are
  // not announced (the caller reruns them, e.g. on --resume).
  const std::atomic<bool>* stop = nullptr;
};

/// Where run_ensemble delivers its results (called on the calling thread).
struct EnsembleSink {
  /// Chunk c is complete: its Welford state over `count` trajectories (V = num_times x 2M values,
  /// the Aggregator's layout). Called in chunk order; empty chunks are skipped.
  std::function<void(std::int64_t chunk, std::int64_t count, const double* mean, const double* m2)>
      chunk;
  /// Local trajectory t < record made `jumps` jumps: time[0..jumps), channel[0..jumps).
  std::function<void(std::int64_t t, int jumps, const double* time, const int* channel)> record;
  /// Local trajectories [0, done) are finished.
  std::function<void(std::int64_t done)> progress;
  /// Group g is complete: every chunk of it (< chunk_end) was handed to `chunk` and every record of
  /// its trajectories to `record` (reruns included); histogram[res][k] = its trajectories with k
  /// jumps through reservoir res. Called in group order, also for groups without trajectories.
  std::function<void(int group, std::int64_t chunk_end,
                     const std::vector<std::vector<std::int64_t>>& histogram)>
      group;
};

/// What the last run_ensemble did (logs, tests, benchmarks).
struct EnsembleInfo {
  int batches = 0;
  std::int64_t max_batch = 0;       // trajectories per batch allowed by memory and the cap
  std::size_t free_bytes = 0;       // cudaMemGetInfo before the run
  std::size_t batch_bytes = 0;      // device bytes of the per-batch buffers
  int histogram_bins = 0;           // device histogram bins per reservoir
  int histogram_fallbacks = 0;      // batches whose counts overflowed the bins (host-counted)
  int reruns = 0;                   // recorded trajectories rerun for more jump slots
  double kernel_ms = 0.0;           // trajectory + reduction kernels, summed over batches
  double wall_ms = 0.0;             // run_ensemble end to end
  int groups = 0;                   // chunk groups announced to sink.group
  bool stopped = false;             // request.stop ended the call early
  int allocations = 0;              // device / pinned buffers (re)allocated by this call: they are
                                    // kept by the runner, so a repeat call of the same shape makes 0
  bool sector_batched = false;      // EnsembleRequest::batch_sectors: the sector-batched engine ran
  long long sector_steps = 0;       // its multiply steps, groups multiplied and columns, all batches
  long long sector_products = 0;
  long long sector_columns = 0;
};

/// Device bytes per batch are capped at this (a larger chunk is split across batches).
constexpr std::size_t kBatchCapBytes = std::size_t(256) << 20;

class TrajectoryBatchRunner {
 public:
  /// Single bundle: every domain's initial state has one component (excited, ground, dicke,
  /// coherent), so the M component draws always pick component 0 of `system`.
  explicit TrajectoryBatchRunner(const trajectory::TrajectorySystem& system,
                                 LaunchSettings launch = {});
  /// Several bundles (e.g. a "product K" domain: a mixture over j). weights / weight_begin as the
  /// CPU backend builds them; `bundles` lists each drawable choice once (same channels in all).
  /// A trajectory that draws a choice without a bundle makes run() throw qtraj::Error.
  TrajectoryBatchRunner(const std::vector<double>& weights, const std::vector<int>& weight_begin,
                        const std::vector<BundleEntry>& bundles, LaunchSettings launch = {});
  ~TrajectoryBatchRunner();
  TrajectoryBatchRunner(TrajectoryBatchRunner&&) noexcept;
  TrajectoryBatchRunner& operator=(TrajectoryBatchRunner&&) noexcept;
  TrajectoryBatchRunner(const TrajectoryBatchRunner&) = delete;
  TrajectoryBatchRunner& operator=(const TrajectoryBatchRunner&) = delete;

  /// Runs trajectories first .. first + count - 1 and fills `out` (resized; layout above).
  /// Throws DeviceError on CUDA failures (the message names the call and the size asked for),
  /// qtraj::Error if the propagator's data is missing from a bundle or a bundle is missing.
  void run(std::int64_t first, std::int64_t count, std::uint64_t seed,
           const PropagatorSettings& propagator, const std::vector<double>& times,
           int jump_capacity, std::int64_t record_end, BatchOutput& out);

  const LaunchInfo& last_launch() const;

  /// Runs every trajectory of `request` in batches planned from the device's free memory
  /// (include/qtraj/backend/batch_plan.hpp), aggregates each chunk on the device (sequential
  /// Welford per value, kernels/chunk_reduction.cuh: bit-identical to the CPU Aggregator over the
  /// same per-trajectory values, independent of batch, grid and block sizes) and the jump-count
  /// histogram (cub::DeviceHistogram), and copies back O(num_times x 2M) numbers per chunk.
  /// Pinned host buffers and two streams overlap set-up of batch k + 1, kernels of batch k and the
  /// copy-back of batch k - 1, across the whole request (chunk groups included); the buffers and
  /// streams persist in the runner, grow-only, from one call to the next. histogram[res][k] += trajectories with k jumps through reservoir res
  /// (resized as needed, no trailing zero bins). Throws DeviceError (one line) if not even one
  /// trajectory's buffers fit the device, qtraj::Error for a trajectory that did not reach the end
  /// or drew a choice without a bundle.
  void run_ensemble(const EnsembleRequest& request, const EnsembleSink& sink,
                    std::vector<std::vector<std::int64_t>>& histogram);
  const EnsembleInfo& last_ensemble() const;

  /// The automatic block size for a largest sector dimension: one thread per component, rounded
  /// up to whole warps, between 32 and 256.
  static int block_size_for(int max_sector_dim);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qtraj::cuda
