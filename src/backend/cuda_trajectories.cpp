// The CUDA backend of the trajectory solver: the host loop around qtraj::cuda::TrajectoryBatchRunner
// (include/qtraj/backend/cuda_trajectory_runner.hpp). Compiled in every build: on a CPU-only build the
// runner's constructor throws NotCompiled (src/backend/device_hooks/), so `backend = "cuda"` fails with one
// clear line.
//
// Batches are whole chunks of the CPU backend's fixed chunking (src/trajectory/run.hpp), and each chunk
// is aggregated in index order, so GPU and CPU runs merge their trajectories in the same order.
// Runs the chunks of run.chunks (an MPI rank's or a resume's share), consecutive ones batched.
//
// Status: compiles; NOT yet run on a GPU (no device in the sessions that wrote it).
#include <chrono>

#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/trajectory/trajectory.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

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
  auto make_runner = [&] {
    try {
      return cuda::TrajectoryBatchRunner(run.weights, run.weight_begin, bundles);
    } catch (const NotCompiled&) {
      throw NotCompiled("solver.backend = \"cuda\"");
    } catch (const DeviceError& e) {
      throw DeviceError(std::string("solver.backend = \"cuda\": ") + e.what());
    }
  };
  cuda::TrajectoryBatchRunner runner = make_runner();

  cuda::PropagatorSettings prop;
  prop.kind = run.adaptive ? cuda::PropagatorSettings::Kind::adaptive
                           : cuda::PropagatorSettings::Kind::spectral;
  prop.rtol = run.settings.rtol;
  prop.atol = run.settings.atol;

  // Batch size: whole chunks, at most ~256 MB of per-trajectory output on the device.
  const std::int64_t bytes_per_trajectory =
      8LL * run.n_t * run.row + 4LL * (1 + static_cast<std::int64_t>(run.channels.size()));
  const std::int64_t max_batch = std::max<std::int64_t>(1, (256LL << 20) / bytes_per_trajectory);
  int capacity = run.record > 0 ? 64 : 0;
  std::vector<int> per_reservoir;
  cuda::BatchOutput out;
  const auto t0 = std::chrono::steady_clock::now();

  const auto n_chunks = static_cast<std::size_t>(run.chunks.size());
  const std::int64_t local_total = run.chunk_trajectories();
  std::int64_t local_done = 0;
  for (std::size_t i = 0; i < n_chunks;) {
    if (run.stop && run.stop->load()) return;  // unfinished chunks rerun on --resume
    const std::int64_t c = run.chunks[i];
    std::int64_t c_end = c + 1;  // chunks [c, c_end) in this batch: consecutive entries of run.chunks
    std::size_t i_end = i + 1;
    while (i_end < n_chunks && run.chunks[i_end] == c_end &&
           run.chunk_begin(c_end + 1) - run.chunk_begin(c) <= max_batch) {
      ++c_end;
      ++i_end;
    }
    const std::int64_t first = run.chunk_begin(c), count = run.chunk_begin(c_end) - first;
    // The runner takes global trajectory indices (PhiloxStream(seed, run.first + t)).
    if (count > 0)
      runner.run(run.first + first, count, run.settings.seed, prop, run.times, capacity,
                 run.first + run.record, out);
    for (std::int64_t k = c; k < c_end; ++k) {
      trajectory::Aggregator chunk(static_cast<std::size_t>(run.n_t) * run.row);
      Histogram histogram(run.num_reservoirs);
      for (std::int64_t t = run.chunk_begin(k); t < run.chunk_begin(k + 1); ++t) {
        const std::int64_t r = t - first;
        if (out.jumps[r] == trajectory::kTrajectoryIncomplete)
          throw Error("trajectories: trajectory " + std::to_string(run.first + t) +
                      " did not reach time.end (the adaptive propagator's step limit)");
        chunk.add(out.obs_of(r));
        count_jumps(run, out.channel_counts_of(r), per_reservoir, histogram);
        if (t < run.record) {
          const int jumps = out.jumps[r];
          if (jumps <= capacity) {
            tally.rec_time[t].assign(out.jump_time_of(r), out.jump_time_of(r) + jumps);
            tally.rec_channel[t].assign(out.jump_channel_of(r), out.jump_channel_of(r) + jumps);
          } else {  // rerun just this trajectory with room for all its jumps: it is identical
            cuda::BatchOutput one;
            runner.run(run.first + t, 1, run.settings.seed, prop, run.times, jumps,
                       run.first + run.record, one);
            tally.rec_time[t].assign(one.jump_time.begin(), one.jump_time.begin() + jumps);
            tally.rec_channel[t].assign(one.jump_channel.begin(), one.jump_channel.begin() + jumps);
          }
        }
      }
      tally.chunk_done(k, std::move(chunk), histogram);
    }
    i = i_end;
    local_done += count;
    if (progress) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress(static_cast<double>(local_done) / local_total,
               format_status(local_done, local_total, secs));
    }
  }
}

}  // namespace qtraj::backend
