#pragma once
// Internal to the trajectory solver: the set-up shared by the CPU and CUDA backends
// (src/backend/cpu_trajectories.cpp, src/backend/cuda_trajectories.cpp) and what they accumulate.
//
// Trajectory t (0-based) is a pure function of (seed, t). Both backends aggregate trajectories in
// kNumChunks fixed index ranges (independent of threads, batches or devices): each chunk's
// Aggregator adds its trajectories in index order and the chunks are merged in chunk order.
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/system.hpp"
#include "trajectory/block_cache.hpp"

namespace qtraj::backend {

constexpr std::int64_t kNumChunks = 256;

/// Bundles by initial-component choice (one DickeSpace per j vector), built lazily, shared.
class BundleCache {
 public:
  /// eigensolver: optional batched eigensolver for the spectral bundles (the CUDA backend's
  /// device set-up; TrajectorySystem's hook).
  BundleCache(const Model& model, const std::vector<Channel>& channels,
              const std::vector<std::vector<DomainComponent>>& components,
              trajectory::PropagatorKind propagator, int setup_threads = 1,
              trajectory::SectorEigensolver eigensolver = {},
              const std::vector<double>* local_rates = nullptr,
              const std::atomic<bool>* stop = nullptr)
      : model_(model), channels_(channels), components_(components), propagator_(propagator),
        setup_threads_(setup_threads), eigensolver_(std::move(eigensolver)),
        local_rates_(local_rates), stop_(stop) {}

  /// The bundle of a choice, built on first use. The map lock is held only for the lookup; the
  /// build (eigendecompositions) runs outside it, once per choice (call_once), so threads that
  /// draw different choices build in parallel. Throws trajectory::SetupStopped when the stop
  /// flag is raised during a build (the choice stays unbuilt).
  const trajectory::TrajectorySystem& get(const std::vector<int>& choice) {
    Entry* entry;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& slot = map_[choice];
      if (!slot) slot = std::make_unique<Entry>();
      entry = slot.get();
    }
    std::call_once(entry->once, [&] {
      std::vector<const DomainComponent*> chosen;
      for (std::size_t i = 0; i < choice.size(); ++i) chosen.push_back(&components_[i][choice[i]]);
      // Builds running at the same time (CPU workers drawing new choices) share the set-up
      // threads instead of each taking all of them; the data does not depend on the count.
      const int concurrent = ++building_;
      const int threads = std::max(1, setup_threads_ / concurrent);
      try {
        entry->system = std::make_unique<trajectory::TrajectorySystem>(
            model_, channels_, chosen, propagator_, threads, eigensolver_, local_rates_, stop_);
      } catch (...) {
        --building_;
        throw;
      }
      --building_;
    });
    return *entry->system;
  }

 private:
  const Model& model_;
  const std::vector<Channel>& channels_;
  const std::vector<std::vector<DomainComponent>>& components_;
  trajectory::PropagatorKind propagator_;  // what the bundles hold (TrajectorySystem)
  int setup_threads_;  // threads for each bundle's per-sector eigendecompositions
  trajectory::SectorEigensolver eigensolver_;  // set: the sectors are solved by it (device)
  const std::vector<double>* local_rates_;  // set: local processes (TrajectorySystem)
  const std::atomic<bool>* stop_;  // set: builds stop when it is raised (SetupStopped)
  std::atomic<int> building_{0};  // bundle builds in progress
  struct Entry {
    std::once_flag once;
    std::unique_ptr<trajectory::TrajectorySystem> system;
  };
  std::mutex mutex_;
  std::map<std::vector<int>, std::unique_ptr<Entry>> map_;
};

/// Everything a backend needs to run trajectories 0 .. total-1 of a validated run.
struct TrajectoryRun {
  const Model& model;
  const SolverSettings& settings;
  // solver.propagator, "auto" resolved; its name (propagator_name) is the result attribute.
  trajectory::PropagatorKind propagator = trajectory::PropagatorKind::spectral;
  trajectory::PropagatorParams propagator_params;  // settings.rtol, settings.atol
  std::int64_t memory_limit = 0;  // bytes (settings.memory_limit, or the default: 25% of RAM)
  std::vector<double> times;
  int n_t = 0, m = 0, row = 0;  // row = 2M values per output time (<J^z>, <J^+J^->), or with
                                // local processes also the block indicators, quanta and counts
  // Local processes (docs/local.md, "Trajectories"): per domain (g_e, g_p, g_phi); the blocks the
  // trajectories hop into; the workspace's sector size (the top block's largest sector); the
  // columns of the obs row (local_trajectory.hpp).
  bool local = false;
  std::vector<double> local_rates;
  std::unique_ptr<BlockCache> blocks;
  // Krylov: trajectories outside their start block run in per-worker (block, sector) windows
  // (src/trajectory/sector_window.hpp); false: in the block cache's whole-block bundles, as the
  // spectral and adaptive propagators do (the same bits: tests compare the two).
  bool local_windows = true;
  int local_max_dim = 0;
  int spin_column = 0, quanta_column = 0, count_column = 0;
  std::vector<Channel> channels;
  int num_reservoirs = 0;
  std::vector<std::vector<DomainComponent>> components;
  std::vector<double> weights;    // all domains' component weights, concatenated
  std::vector<int> weight_begin;  // M + 1 offsets into weights
  std::int64_t first = 0;         // global index of local trajectory 0 (shards)
  std::int64_t total = 0;         // trajectories: local indices 0 .. total-1, global first + local
  std::int64_t record = 0;        // jump records for local t < record
  std::unique_ptr<BundleCache> cache;
  std::string setup_device;  // backend = "cuda", spectral: where the eigensystems were solved
  std::vector<std::int64_t> chunks;       // the chunks this process runs, ascending (default: all)
  // solver.batch_sectors resolved: spectral trajectories on the CPU in sector-batched batches of
  // sector_batch (run_trajectories_cpu_batched); bit-identical results either way.
  bool batch_sectors = false;
  std::int64_t sector_batch = 64;
  const std::atomic<bool>* stop = nullptr;  // when set and true: start no further trajectory

  /// Validates the settings and builds the most likely bundle (input errors surface here).
  /// stop_flag (optional) becomes `stop` and stops the bundles' set-up (trajectory::SetupStopped).
  TrajectoryRun(const Model& model, const SolverSettings& settings, const TimeGrid& grid,
                const std::atomic<bool>* stop_flag = nullptr);
  std::int64_t chunk_begin(std::int64_t c) const {
    return c * (total / kNumChunks) + std::min<std::int64_t>(c, total % kNumChunks);
  }
  /// Trajectories in `chunks`.
  std::int64_t chunk_trajectories() const;
};

using Histogram = std::vector<std::vector<std::int64_t>>;  // [reservoir][jump count] -> trajectories

/// One finished chunk: its aggregator and its jump-count histogram.
struct ChunkState {
  trajectory::Aggregator all;
  Histogram histogram;
};

/// A snapshot of a Tally: what a checkpoint stores and what an MPI rank sends to rank 0. Only
/// finished chunks are in it. Chunks 0 .. folded-1 are Chan-merged into `all` in chunk order
/// (`histogram` is their summed histogram); later finished chunks wait unmerged in `pending`
/// (merging them out of order would change the rounding). Records: one entry per jump of the
/// finished chunks' trajectories t < record (local t, in trajectory order).
struct TallyState {
  std::int64_t folded = 0;
  trajectory::Aggregator all;
  Histogram histogram;
  std::map<std::int64_t, ChunkState> pending;
  std::vector<std::int64_t> rec_trajectory;
  std::vector<double> rec_time;
  std::vector<std::int64_t> rec_channel;

  /// The finished chunks, ascending: 0 .. folded-1 and the pending ones.
  std::vector<std::int64_t> done_chunks() const;
  /// The histogram of all finished chunks.
  Histogram total_histogram() const;
  /// Flat bytes (same binary on both ends: MPI ranks of one job) and back.
  std::vector<char> serialize() const;
  static TallyState deserialize(const std::vector<char>& bytes);
};

/// What the backends accumulate. A backend hands each finished chunk to chunk_done (any thread,
/// any order) after writing the chunk's jump records into rec_time/rec_channel; chunks are merged
/// into `all` in chunk order as soon as all chunks before them are in, so the result does not
/// depend on threads, batches, ranks or resumes. snapshot() may run concurrently (checkpoints).
class Tally {
 public:
  explicit Tally(const TrajectoryRun& run);

  void chunk_done(std::int64_t c, trajectory::Aggregator&& chunk, const Histogram& histogram);
  /// Several finished chunks at once, with one histogram for all of them (the CUDA backend's
  /// segments): it is kept on the first chunk, and a snapshot has all of them or none.
  void chunks_done(std::vector<std::pair<std::int64_t, trajectory::Aggregator>>&& chunks,
                   const Histogram& histogram);
  /// The finished chunks so far (thread-safe).
  TallyState snapshot() const;
  /// Adds finished chunks from a checkpoint or another rank. A state with folded > 0 (a
  /// checkpoint) is taken only by a tally that has no chunks yet. A chunk the tally already has is
  /// skipped with its records when `skip_known` (checkpoint files of several ranks may overlap:
  /// the states are equal, trajectory t being a function of (seed, t)); else it throws Error.
  void absorb(const TallyState& state, bool skip_known = false);
  /// True once chunks 0 .. kNumChunks-1 are all merged into `all`.
  bool complete() const;

  trajectory::Aggregator all;  // chunks 0 .. folded-1, merged in chunk order
  Histogram histogram;         // summed over the finished chunks
  std::vector<std::vector<double>> rec_time;  // t < record: jump times (written by the backends)
  std::vector<std::vector<int>> rec_channel;  // t < record: jump channels

 private:
  void fold_locked();
  const TrajectoryRun& run_;
  mutable std::mutex mutex_;
  std::int64_t folded_ = 0;
  Histogram prefix_histogram_;  // of chunks 0 .. folded_-1
  std::map<std::int64_t, ChunkState> pending_;
};

/// The statistics of a run, or of merged shards: everything the result is made from.
struct TrajectoryStatistics {
  trajectory::Aggregator all;  // per output time: <J_i^z> (M values), then <J_i^+ J_i^-> (M)
  std::vector<std::vector<std::int64_t>> histogram;  // [reservoir][jump count] -> trajectories
  bool has_records = false;
  std::vector<std::int64_t> rec_trajectory;  // global trajectory index of each recorded jump
  std::vector<double> rec_time;
  std::vector<std::int64_t> rec_channel;     // index into collapse_channels (local: local_jump_code)
};

/// A recorded local jump's code in the records (checkpoints carry it unchanged): C + l +
/// 9 M two_j_before, l the local channel (local_jump.hpp), two_j_before 2 j_i before the jump.
inline std::int64_t local_jump_code(int num_channels, int m, int l, int two_j_before) {
  return num_channels + l + 9LL * m * two_j_before;
}

/// Means, standard errors, the raw aggregator state (/aggregator/*, for merging shards exactly),
/// histograms and jump records, as the HDF5 layout wants them. Attributes are the caller's.
/// The records' channels with the local jumps' codes restored from /jumps/local (n_jumps x 4, as
/// trajectory_result writes it): what a checkpoint or a shard's records read back as.
/// Every row is checked against `model` (domain 1..M with local rates, process 1..3, 2 j_i before
/// and after of N_i's parity within 0..N_i, differing by 0 or 2; a collective jump's row 0 0 -1 -1
/// with its channel in 0..C-1, a local one's channel -1): an InputError names `path`'s dataset and
/// the value otherwise.
std::vector<std::int64_t> encode_local_jumps(std::vector<std::int64_t> channel,
                                             const std::vector<std::int64_t>& table,
                                             int num_channels, const Model& model,
                                             const std::string& path);

/// Values per output time of the aggregator rows (TrajectoryRun::row): 2M, and with local
/// processes sum_i (floor(N_i / 2) + 1) total-spin columns, 2M local-quanta columns and 9M
/// local jump counts (domain, process, dj).
inline std::uint64_t aggregator_row_width(const Model& model) {
  const std::uint64_t m = model.spins.size();
  if (!model.has_local()) return 2 * m;
  std::uint64_t row = 4 * m + 9 * m;
  for (long long n : model.spins) row += static_cast<std::uint64_t>(n / 2) + 1;
  return row;
}

/// With local processes (model.has_local()) the aggregator rows are wider (TrajectoryRun::row) and
/// the result gains /total_spin/*, /local_quanta/*, /jump_counts/local_* and /jumps/local.
Result trajectory_result(const Model& model, const std::vector<double>& times,
                         const std::vector<Channel>& channels, int num_reservoirs,
                         const TrajectoryStatistics& stats);

/// Adds one trajectory's jumps (channel_counts[c], collapse-channel order) to a histogram.
/// per_reservoir is scratch.
void count_jumps(const TrajectoryRun& run, const int* channel_counts,
                 std::vector<int>& per_reservoir,
                 std::vector<std::vector<std::int64_t>>& histogram);

/// The CPU backend (src/backend/cpu_trajectories.cpp): std::threads over run.chunks. Returns
/// early (unfinished chunks not handed over) when *run.stop becomes true.
void run_trajectories_cpu(TrajectoryRun& run, Tally& tally, const ProgressFn& progress);

/// The CPU backend with sector-batched spectral trajectories (src/backend/cpu_sector_batched.cpp),
/// which run_trajectories_cpu calls when run.batch_sectors: the same contract and results.
void run_trajectories_cpu_batched(TrajectoryRun& run, Tally& tally, const ProgressFn& progress);

/// The CUDA backend (src/backend/cuda_trajectories.cpp): runs run.chunks on the current device.
/// Throws NotCompiled on a CPU-only build, DeviceError without a usable GPU.
void run_trajectories_cuda(TrajectoryRun& run, Tally& tally, const ProgressFn& progress);

class Communicator;
/// MPI ranks (src/backend/mpi_trajectories.cpp): splits run.chunks into `comm.size()` contiguous
/// pieces, keeps piece `comm.rank()` in run.chunks and calls run_local() (the CPU or CUDA
/// backend, with checkpoints; with backend = "cuda" after picking the local rank's GPU), agrees
/// on errors (one rank failing fails all, no hang), and gathers the ranks' finished chunks into
/// rank 0's tally in rank order. On rank 0 the tally is then what a one-process run gives.
void run_trajectories_mpi(TrajectoryRun& run, Tally& tally, Communicator& comm,
                          const std::function<void()>& run_local);

/// "N/M trajectories, rate/s, ETA" for progress lines.
std::string format_status(std::int64_t done, std::int64_t total, double seconds);

}  // namespace qtraj::backend
