// The CUDA backend of the trajectory solver: hands the run's fixed chunks to
// qtraj::cuda::TrajectoryBatchRunner::run_ensemble (include/qtraj/backend/cuda_trajectory_runner.hpp),
// which runs them in batches and aggregates each chunk on the device. Compiled in every build: on
// a CPU-only build the runner's constructor throws NotCompiled (src/backend/device_hooks/), so
// `backend = "cuda"` fails with one clear line.
//
// The chunks are those of the CPU backend (src/trajectory/run.hpp); each chunk's Welford state comes
// back from the device (the same sequential Welford as the CPU's Aggregator::add, welford.hpp) and
// the chunks are merged here in chunk order, exactly as the CPU backend merges them.
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
  req.first = run.first;
  for (std::int64_t c = 0; c <= kNumChunks; ++c) req.chunk_begin.push_back(run.chunk_begin(c));
  req.seed = run.settings.seed;
  req.propagator.kind = run.adaptive ? cuda::PropagatorSettings::Kind::adaptive
                                     : cuda::PropagatorSettings::Kind::spectral;
  req.propagator.rtol = run.settings.rtol;
  req.propagator.atol = run.settings.atol;
  req.times = run.times;
  req.record = run.record;
  for (const auto& ch : run.channels) req.channel_reservoir.push_back(ch.reservoir);
  req.num_reservoirs = run.num_reservoirs;

  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t num_values = static_cast<std::size_t>(run.n_t) * run.row;
  cuda::EnsembleSink sink;
  sink.chunk = [&](std::int64_t, std::int64_t count, const double* mean, const double* m2) {
    // In chunk order: the CPU backend's merge order.
    tally.all.merge(trajectory::Aggregator::from_state(
        count, std::vector<double>(mean, mean + num_values), std::vector<double>(m2, m2 + num_values)));
  };
  sink.record = [&](std::int64_t t, int jumps, const double* time, const int* channel) {
    tally.rec_time[t].assign(time, time + jumps);
    tally.rec_channel[t].assign(channel, channel + jumps);
  };
  if (progress)
    sink.progress = [&](std::int64_t done) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress(static_cast<double>(done) / run.total, format_status(done, run.total, secs));
    };
  rethrow_device([&] {
    runner.run_ensemble(req, sink, tally.histogram);
    return 0;
  });
}

}  // namespace qtraj::backend
