// The CUDA backend of the trajectory solver: hands the run's fixed chunks to
// qtraj::cuda::TrajectoryBatchRunner::run_ensemble (include/qtraj/backend/cuda_trajectory_runner.hpp),
// which runs them in batches and aggregates each chunk on the device. Compiled in every build: on
// a CPU-only build the runner's constructor throws NotCompiled (src/backend/device_hooks/), so
// `backend = "cuda"` fails with one clear line.
//
// The chunks are those of the CPU backend (src/trajectory/run.hpp); each chunk's Welford state comes
// back from the device (the same sequential Welford as the CPU's Aggregator::add, welford.hpp) and
// the chunks are merged in chunk order (Tally), exactly as the CPU backend merges them.
//
// Only the chunks of run.chunks run (an MPI rank's piece, or what a resume left): one run_ensemble
// call per stretch of consecutive chunks (a fresh run: one call for all 256), so its
// double-buffered pipeline and buffers span the stretch. Within it, segments of at most
// kSegmentChunks chunks are the runner's chunk groups: each has its own histogram, so a segment's
// chunks enter the Tally together (Tally::chunks_done, histogram on its first chunk) as soon as
// the runner announces it, and a checkpoint holds whole segments. A stop request (signal) is
// passed to the runner, which launches no further batch; segments not complete by then rerun on
// --resume.
#include <algorithm>
#include <chrono>
#include <map>

#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/trajectory/trajectory.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

constexpr std::int64_t kSegmentChunks = 16;  // chunks per segment (1/16 of a fresh run)

void run_trajectories_cuda(TrajectoryRun& run, Tally& tally, const ProgressFn& progress) {
  // Fail fast (CPU-only build, no device) before building any bundle.
  try {
    (void)cuda::device_summary();
  } catch (const NotCompiled&) {
    throw NotCompiled("solver.backend = \"cuda\"");
  } catch (const DeviceError& e) {
    throw DeviceError(std::string("solver.backend = \"cuda\": ") + e.what());
  }
  // Every bundle a trajectory can draw must be on the device before the first batch.
  std::vector<cuda::BundleEntry> bundles;
  for (const auto& choice : cuda::drawable_choices(run.weights, run.weight_begin))
    bundles.push_back(cuda::BundleEntry{choice, &run.cache->get(choice)});
  auto rethrow_device = [](auto&& body) {
    try {
      return body();
    } catch (const NotCompiled&) {
      throw NotCompiled("solver.backend = \"cuda\"");
    } catch (const DeviceError& e) {
      throw DeviceError(std::string("solver.backend = \"cuda\": ") + e.what());
    }
  };
  cuda::TrajectoryBatchRunner runner = rethrow_device(
      [&] { return cuda::TrajectoryBatchRunner(run.weights, run.weight_begin, bundles); });

  cuda::EnsembleRequest req;
  req.seed = run.settings.seed;
  req.propagator.kind = run.propagator;
  req.propagator.rtol = run.propagator_params.rtol;
  req.propagator.atol = run.propagator_params.atol;
  req.propagator.max_basis = run.propagator_params.max_basis;
  req.batch_sectors = run.batch_sectors;  // solver.batch_sectors = "on" (spectral): sector-batched engine
  req.times = run.times;
  for (const auto& ch : run.channels) req.channel_reservoir.push_back(ch.reservoir);
  req.num_reservoirs = run.num_reservoirs;

  req.stop = run.stop;

  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t num_values = static_cast<std::size_t>(run.n_t) * run.row;
  const std::int64_t local_total = run.chunk_trajectories();
  std::int64_t local_done = 0;
  const auto n = static_cast<std::int64_t>(run.chunks.size());
  for (std::int64_t i = 0; i < n;) {
    if (run.stop && run.stop->load()) return;  // unfinished chunks rerun on --resume
    // Stretch: chunks c0 .. c1-1, consecutive entries of run.chunks; segments of kSegmentChunks.
    const std::int64_t c0 = run.chunks[i];
    std::int64_t c1 = c0 + 1, i1 = i + 1;
    while (i1 < n && run.chunks[i1] == c1) ++c1, ++i1;
    const std::int64_t base = run.chunk_begin(c0);  // local trajectory 0 of the stretch
    req.first = run.first + base;
    req.chunk_begin.clear();
    for (std::int64_t c = c0; c <= c1; ++c) req.chunk_begin.push_back(run.chunk_begin(c) - base);
    req.group_end.clear();
    for (std::int64_t e = std::min(c1 - c0, kSegmentChunks);; e = std::min(c1 - c0, e + kSegmentChunks)) {
      req.group_end.push_back(e);
      if (e == c1 - c0) break;
    }
    req.record = std::max<std::int64_t>(0, run.record - base);
    // Chunk states of the segment in progress (local chunk index -> state); empty chunks get none.
    std::map<std::int64_t, trajectory::Aggregator> waiting;
    std::int64_t segment_begin = 0;  // local chunk index where the next segment starts
    cuda::EnsembleSink sink;
    sink.chunk = [&](std::int64_t k, std::int64_t count, const double* mean, const double* m2) {
      waiting[k] = trajectory::Aggregator::from_state(
          count, std::vector<double>(mean, mean + num_values), std::vector<double>(m2, m2 + num_values));
    };
    sink.record = [&](std::int64_t t, int jumps, const double* time, const int* channel) {
      tally.rec_time[base + t].assign(time, time + jumps);
      tally.rec_channel[base + t].assign(channel, channel + jumps);
    };
    sink.group = [&](int, std::int64_t chunk_end, const Histogram& histogram) {
      std::vector<std::pair<std::int64_t, trajectory::Aggregator>> segment;
      for (std::int64_t k = segment_begin; k < chunk_end; ++k) {
        auto it = waiting.find(k);
        segment.emplace_back(c0 + k, it != waiting.end() ? std::move(it->second)
                                                         : trajectory::Aggregator(num_values));
        if (it != waiting.end()) waiting.erase(it);
      }
      tally.chunks_done(std::move(segment), histogram);
      segment_begin = chunk_end;
    };
    if (progress)
      sink.progress = [&](std::int64_t done) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        progress(static_cast<double>(local_done + done) / local_total,
                 format_status(local_done + done, local_total, secs));
      };
    Histogram histogram(run.num_reservoirs);  // the stretch's total (the segments have theirs)
    rethrow_device([&] {
      runner.run_ensemble(req, sink, histogram);
      return 0;
    });
    if (runner.last_ensemble().stopped) return;  // unfinished segments rerun on --resume
    local_done += run.chunk_begin(c1) - base;
    i = i1;
  }
}

}  // namespace qtraj::backend
