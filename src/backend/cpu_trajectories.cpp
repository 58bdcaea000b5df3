// The trajectory solver's CPU backend: std::threads over fixed chunks (docs/design.md section 3.5).
//
// Trajectory t (0-based) uses PhiloxStream(seed, t) only, so its jumps do not depend on the thread
// that runs it. Aggregation is bit-identical for any thread count and scheduling: trajectories are
// split into kNumChunks fixed index ranges (independent of the thread count); each chunk's
// Aggregator adds its trajectories in index order; a finished chunk goes to Tally::chunk_done,
// which merges the chunks in chunk order (so only about `threads` chunk aggregators are alive).
// The threads take the chunks of run.chunks (all of them, or an MPI rank's or a resume's share).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <limits>

#include <fmt/format.h>

#include "qtraj/error.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/local_trajectory.hpp"
#include "qtraj/trajectory/trajectory.hpp"
#include "backend/worker_pool.hpp"
#include "trajectory/run.hpp"
#include "trajectory/sector_window.hpp"

namespace qtraj::backend {

using namespace trajectory;

/// Per-thread buffers, reused across trajectories (no allocation on the hot path).
struct Worker {
  std::vector<double> work;
  std::vector<double> obs;
  std::vector<double> jump_time;
  std::vector<int> jump_channel;
  std::vector<int> channel_counts;
  std::vector<int> choice, last_choice;
  const TrajectorySystem* last_bundle = nullptr;
  std::vector<int> per_reservoir;
  Histogram histogram;  // [reservoir][jump count], of the current chunk
  // Local processes: jumps per local channel, the stored jumps' 2 j_i, the hop target's j vector;
  // Krylov: the (block, sector) windows a trajectory enters (sector_window.hpp), two so that a
  // jump reads the one it leaves while it writes into the one it enters.
  std::vector<int> local_counts, jump_two_j, hop_two_j;
  std::unique_ptr<SectorWindow> windows[2];
};

/// The CPU backend: std::threads over fixed chunks, SerialTeam per trajectory.
void run_trajectories_cpu(TrajectoryRun& run, Tally& tally,
                          const ProgressFn& progress) {
  if (run.batch_sectors) return run_trajectories_cpu_batched(run, tally, progress);
  const SolverSettings& settings = run.settings;
  const std::int64_t total = run.chunk_trajectories(), record = run.record;
  const auto n_chunks = static_cast<std::int64_t>(run.chunks.size());
  const int m = run.m, n_t = run.n_t, row = run.row;
  const int threads = WorkerPool::thread_count(settings.threads, total, n_chunks);

  const std::size_t n_values = static_cast<std::size_t>(n_t) * row;
  std::vector<Worker> workers(threads);
  std::atomic<std::int64_t> next_chunk{0};
  WorkerPool pool;
  std::atomic<std::int64_t>& done = pool.done;
  std::atomic<bool>& failed = pool.failed;
  auto stopped = [&] { return run.stop && run.stop->load(std::memory_order_relaxed); };

  // A trajectory with local processes (local_trajectory.hpp): the workspace holds the top block's
  // largest sector and C + 9 M channel weights. It starts in its start bundle (every sector of the
  // start block); a jump into another block continues, with the Krylov propagator, in the worker's
  // window of the (block, sector) it enters (rebuilt on every sector change from then on: the
  // same arithmetic as a whole-block bundle, ~1e4 times less memory), with the spectral and
  // adaptive propagators in the block cache's whole-block bundle (their per-sector data is built
  // once per block and shared).
  const bool windowed = run.propagator == PropagatorKind::krylov && run.local_windows;
  auto run_local = [&](Worker& w, PhiloxStream& rng, const TrajectorySystem& bundle,
                       const TrajectoryStart& start, TrajectoryOutput& out) -> int {
    out.row_stride = row;
    LocalTrajectoryOutput local;
    local.spin_column = run.spin_column;
    local.quanta_column = run.quanta_column;
    local.count_column = run.count_column;
    local.local_counts = w.local_counts.data();
    local.jump_two_j = w.jump_two_j.data();
    if (windowed && !w.windows[0])
      for (auto& window : w.windows) window = std::make_unique<SectorWindow>(bundle.view());
    auto hop = [&](const SystemView& from, int i, int dj, int n_to) -> const SystemView* {
      const bool new_block = i >= 0 && dj != 0;
      if (new_block) {
        w.hop_two_j.assign(from.two_j, from.two_j + m);
        w.hop_two_j[i] += 2 * dj;
      }
      if (!windowed) {  // a whole-block bundle: its set-up may be long, so not after a stop
        if (!new_block) return &from;
        if (stopped() && !run.blocks->built(w.hop_two_j)) return nullptr;
        return &run.blocks->get(w.hop_two_j).view();
      }
      SectorWindow* in = w.windows[0]->holds(&from)   ? w.windows[0].get()
                         : w.windows[1]->holds(&from) ? w.windows[1].get()
                                                      : nullptr;  // the start bundle
      if (!new_block && (!in || in->covers(n_to))) return &from;
      if (new_block) run.blocks->enter(w.hop_two_j);  // counted once per block (/@local_blocks)
      else w.hop_two_j.assign(from.two_j, from.two_j + m);
      SectorWindow& next = in == w.windows[0].get() ? *w.windows[1] : *w.windows[0];
      return &next.enter(w.hop_two_j.data(), n_to);
    };
    const int weights = static_cast<int>(run.channels.size()) + kLocalChannelsPerDomain * m;
    return with_propagator(run.propagator, run.propagator_params, [&](auto prop) {
      using P = decltype(prop);
      const auto need = static_cast<std::size_t>(workspace_doubles<P>(run.local_max_dim, weights));
      if (w.work.size() < need) w.work.resize(need);
      const TrajectoryWorkspace ws = carve_workspace<P>(w.work.data(), run.local_max_dim, weights);
      SerialTeam team;
      return run_local_trajectory(team, bundle.view(), prop, rng, start, ws, out, local, hop);
    });
  };

  auto run_one = [&](Worker& w, std::int64_t t) -> int {
    PhiloxStream rng(settings.seed, static_cast<std::uint64_t>(run.first + t));
    draw_components(rng, m, run.weights.data(), run.weight_begin.data(), w.choice.data());
    if (!w.last_bundle || w.choice != w.last_choice) {  // lock only when the choice changes
      w.last_bundle = &run.cache->get(w.choice);
      w.last_choice = w.choice;
    }
    const TrajectorySystem& bundle = *w.last_bundle;
    const SystemView& sys = bundle.view();
    const auto& p = bundle.sector_probability();
    const int n = draw_sector(rng, p.data(), static_cast<int>(p.size()));
    TrajectoryStart start{n, bundle.start_re(n), bundle.start_im(n), bundle.complex_state()};
    TrajectoryOutput out;
    out.times = run.times.data();
    out.num_times = n_t;
    out.obs = w.obs.data();
    out.jump_time = w.jump_time.data();
    out.jump_channel = w.jump_channel.data();
    out.jump_capacity = t < record ? static_cast<int>(w.jump_time.size()) : 0;
    out.channel_counts = w.channel_counts.data();
    out.stop = run.stop;
    if (run.local) return run_local(w, rng, bundle, start, out);
    return with_propagator(run.propagator, run.propagator_params, [&](auto prop) {
      using P = decltype(prop);
      // Workspace sized for the propagator (spectral 8 d + C, adaptive 26 d + C, Krylov ~90 d).
      const auto need =
          static_cast<std::size_t>(workspace_doubles<P>(sys.max_sector_dim, sys.num_channels));
      if (w.work.size() < need) w.work.resize(need);
      const TrajectoryWorkspace ws =
          carve_workspace<P>(w.work.data(), sys.max_sector_dim, sys.num_channels);
      SerialTeam team;
      return run_trajectory(team, sys, prop, rng, start, ws, out);
    });
  };

  auto work = [&](int thread_index) {
    Worker& w = workers[thread_index];
    w.obs.assign(static_cast<std::size_t>(n_t) * row, 0.0);
    w.jump_time.assign(record > 0 ? 64 : 0, 0.0);
    w.jump_channel.assign(w.jump_time.size(), 0);
    w.channel_counts.assign(run.channels.size(), 0);
    w.local_counts.assign(static_cast<std::size_t>(kLocalChannelsPerDomain) * m, 0);
    w.jump_two_j.assign(w.jump_time.size(), -1);
    w.choice.assign(m, 0);
    for (;;) {
      const std::int64_t k = next_chunk++;
      if (k >= n_chunks || failed) break;
      const std::int64_t c = run.chunks[k];
      Aggregator chunk(n_values);
      w.histogram.assign(run.num_reservoirs, {});
      for (std::int64_t t = run.chunk_begin(c); t < run.chunk_begin(c + 1); ++t) {
        if (stopped()) return;  // the unfinished chunk is dropped: it reruns on --resume
        int jumps = run_one(w, t);
        if (stopped()) return;  // the trajectory may be unfinished (out.stop): dropped
        if (jumps == kTrajectoryIncomplete)
          throw Error("trajectories: trajectory " + std::to_string(run.first + t) +
                      " did not reach time.end (the " + propagator_name(run.propagator) +
                      " propagator's step limit); use solver.propagator = \"spectral\" or a "
                      "shorter time.end");
        if (t < record && jumps > static_cast<int>(w.jump_time.size())) {
          // Grow and rerun: the trajectory is a pure function of (seed, t).
          w.jump_time.resize(jumps);
          w.jump_channel.resize(jumps);
          w.jump_two_j.resize(jumps);
          jumps = run_one(w, t);
        }
        if (run.local && t < record)  // local jumps: their code with the block (run.hpp)
          for (int j = 0; j < jumps; ++j)
            if (w.jump_two_j[j] >= 0)
              w.jump_channel[j] = static_cast<int>(local_jump_code(
                  static_cast<int>(run.channels.size()), m,
                  w.jump_channel[j] - static_cast<int>(run.channels.size()), w.jump_two_j[j]));
        chunk.add(w.obs.data());
        count_jumps(run, w.channel_counts.data(), w.per_reservoir, w.histogram);
        if (t < record) {
          tally.rec_time[t].assign(w.jump_time.begin(), w.jump_time.begin() + jumps);
          tally.rec_channel[t].assign(w.jump_channel.begin(), w.jump_channel.begin() + jumps);
        }
        ++done;
      }
      tally.chunk_done(c, std::move(chunk), w.histogram);
    }
  };

  pool.run(threads, total, work, stopped, progress);
}

}  // namespace qtraj::backend
