// The CPU backend with sector-batched spectral trajectories (solver.batch_sectors, docs/design.md
// section 3.3; the engine: include/qtraj/trajectory/sector_batched.hpp).
//
// Work units are runs of consecutive chunks of run.chunks (about run.sector_batch trajectories
// each); a thread takes a unit and runs its trajectories in index order, in batches of at most
// run.sector_batch through one SectorBatchedEngine. Trajectory t still uses PhiloxStream(seed, t)
// only, and the engine gives every trajectory bit-identical to run_trajectory's, whatever its batch;
// each chunk's Aggregator adds its trajectories in index order and goes to Tally::chunk_done as in
// run_trajectories_cpu. So the result is bit-identical to the per-trajectory CPU backend for any
// thread count, batch size or unit size.
#include <algorithm>
#include <atomic>

#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/sector_batched.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/trajectory.hpp"
#include "backend/worker_pool.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

using namespace trajectory;

namespace {

/// Per-thread state, reused across units.
struct BatchWorker {
  explicit BatchWorker(const std::vector<double>& times) : engine(times) {}
  SectorBatchedEngine engine;
  std::vector<BatchedTrajectory> batch;
  std::vector<double> obs;
  std::vector<int> choice, last_choice;
  const TrajectorySystem* last_bundle = nullptr;
  std::vector<int> per_reservoir;
  Histogram histogram;
};

}  // namespace

void run_trajectories_cpu_batched(TrajectoryRun& run, Tally& tally, const ProgressFn& progress) {
  const SolverSettings& settings = run.settings;
  const std::int64_t total = run.chunk_trajectories(), record = run.record;
  const auto n_chunks = static_cast<std::int64_t>(run.chunks.size());
  const int m = run.m, n_t = run.n_t, row = run.row;
  const std::int64_t batch_cap = std::max<std::int64_t>(1, run.sector_batch);
  // Chunks per unit: enough for ~batch_cap trajectories (chunk sizes differ by at most one).
  const std::int64_t per_chunk = std::max<std::int64_t>(1, run.total / kNumChunks);
  const std::int64_t unit_chunks = std::max<std::int64_t>(1, batch_cap / per_chunk);
  const std::int64_t n_units = (n_chunks + unit_chunks - 1) / unit_chunks;
  const int threads = WorkerPool::thread_count(settings.threads, total, n_units);

  const std::size_t n_values = static_cast<std::size_t>(n_t) * row;
  std::vector<std::unique_ptr<BatchWorker>> workers;
  for (int k = 0; k < threads; ++k) workers.push_back(std::make_unique<BatchWorker>(run.times));
  std::atomic<std::int64_t> next_unit{0};
  WorkerPool pool;
  std::atomic<std::int64_t>& done = pool.done;
  std::atomic<bool>& failed = pool.failed;
  auto stopped = [&] { return run.stop && run.stop->load(std::memory_order_relaxed); };

  // Trajectories [t0, t1) (local indices), then each one's output handed to `sink` in order.
  auto run_batch = [&](BatchWorker& w, std::int64_t t0, std::int64_t t1) {
    const auto count = static_cast<std::size_t>(t1 - t0);
    w.batch.resize(count);
    if (w.obs.size() < count * n_values) w.obs.resize(count * n_values);
    for (std::size_t i = 0; i < count; ++i) {
      const std::int64_t t = t0 + static_cast<std::int64_t>(i);
      BatchedTrajectory& tr = w.batch[i];
      tr.rng = PhiloxStream(settings.seed, static_cast<std::uint64_t>(run.first + t));
      draw_components(tr.rng, m, run.weights.data(), run.weight_begin.data(), w.choice.data());
      if (!w.last_bundle || w.choice != w.last_choice) {
        w.last_bundle = &run.cache->get(w.choice);
        w.last_choice = w.choice;
      }
      const TrajectorySystem& bundle = *w.last_bundle;
      const auto& p = bundle.sector_probability();
      tr.sector = draw_sector(tr.rng, p.data(), static_cast<int>(p.size()));
      tr.sys = &bundle.view();
      tr.start_re = bundle.start_re(tr.sector);
      tr.start_im = bundle.start_im(tr.sector);
      tr.complex_state = bundle.complex_state();
      tr.record_jumps = t < record;
      tr.obs = w.obs.data() + i * n_values;
    }
    w.engine.run(w.batch, run.stop);
  };

  auto work = [&](int thread_index) {
    BatchWorker& w = *workers[thread_index];
    w.choice.assign(m, 0);
    for (;;) {
      const std::int64_t u = next_unit++;
      if (u >= n_units || failed) break;
      const std::int64_t k0 = u * unit_chunks, k1 = std::min(n_chunks, k0 + unit_chunks);
      // The unit's trajectories, chunk by chunk; batches may span chunk boundaries.
      std::vector<std::int64_t> ts;
      for (std::int64_t k = k0; k < k1; ++k)
        for (std::int64_t t = run.chunk_begin(run.chunks[k]); t < run.chunk_begin(run.chunks[k] + 1); ++t)
          ts.push_back(t);
      std::size_t next = 0;  // next trajectory of ts to aggregate
      std::int64_t k = k0;   // the unit's first chunk not yet handed to the tally
      Aggregator chunk(n_values);
      w.histogram.assign(run.num_reservoirs, {});
      // Hands over every chunk all of whose trajectories (local indices < end) are in; empty
      // chunks (fewer trajectories than chunks) go over without any.
      auto finish_chunks = [&](std::int64_t end) {
        while (k < k1 && run.chunk_begin(run.chunks[k] + 1) <= end) {
          tally.chunk_done(run.chunks[k], std::move(chunk), w.histogram);
          chunk = Aggregator(n_values);
          w.histogram.assign(run.num_reservoirs, {});
          ++k;
        }
      };
      while (next < ts.size()) {
        if (stopped()) return;  // unfinished chunks are dropped: they rerun on --resume
        // A batch: consecutive trajectories of ts with contiguous indices (the chunks of a unit
        // need not be adjacent in an MPI rank's or a resume's share).
        std::size_t end = next + 1;
        while (end < ts.size() && end - next < static_cast<std::size_t>(batch_cap) &&
               ts[end] == ts[end - 1] + 1)
          ++end;
        run_batch(w, ts[next], ts[end - 1] + 1);
        if (stopped()) return;  // the batch may be unfinished (the engine's stop): dropped
        for (std::size_t i = next; i < end; ++i) {
          const BatchedTrajectory& tr = w.batch[i - next];
          const std::int64_t t = ts[i];
          finish_chunks(t);
          chunk.add(tr.obs);
          count_jumps(run, tr.channel_counts.data(), w.per_reservoir, w.histogram);
          if (t < record) {
            tally.rec_time[t] = tr.jump_time;
            tally.rec_channel[t] = tr.jump_channel;
          }
          ++done;
          finish_chunks(t + 1);
        }
        next = end;
      }
      finish_chunks(run.total);
    }
  };

  pool.run(threads, total, work, stopped, progress);
}

}  // namespace qtraj::backend
