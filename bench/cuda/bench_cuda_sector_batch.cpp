// qtraj_cuda_sector_batch_bench: the CUDA sector-batched engine (EnsembleRequest::batch_sectors,
// kernels/sector_batch_kernels.cu) against the per-block kernel, side by side on one runner (same
// bundle, same trajectories, run_ensemble over 256 chunks), on the trajectory benchmarks' settings
// (first domain excited, chain, t = 0..100 on 201 points, spectral propagator; bundle set-up not
// timed). docs/cuda.md section 5.
//
//   qtraj_cuda_sector_batch_bench [--trajectories 4000] [--threads 0] [--systems 400,40,4:200,40,8]
//
// Columns: traj/s of each path (run_ensemble wall time), their ratio, the batched engine's multiply
// steps, groups multiplied and columns (columns / groups = trajectories sharing one V_n stream),
// and max |mean_batched - mean_per_block| / (1 + |mean|) over every output value (the two paths
// agree to rounding: it should be ~1e-13).
// scripts/gpu-check.sh runs it (docs/cuda.md section 1).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../trajectory_bench_config.hpp"
#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/system.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Pass {
  double seconds = 0, kernel_s = 0;
  qtraj::cuda::EnsembleInfo info;
  qtraj::trajectory::Aggregator agg;
};

Pass run(qtraj::cuda::TrajectoryBatchRunner& runner, qtraj::cuda::EnsembleRequest req, bool batched,
         std::size_t values) {
  req.batch_sectors = batched;
  Pass p;
  p.agg = qtraj::trajectory::Aggregator(values);
  qtraj::cuda::EnsembleSink sink;
  sink.chunk = [&](std::int64_t, std::int64_t count, const double* mean, const double* m2) {
    p.agg.merge(qtraj::trajectory::Aggregator::from_state(
        count, std::vector<double>(mean, mean + values), std::vector<double>(m2, m2 + values)));
  };
  std::vector<std::vector<std::int64_t>> histogram;
  const auto t0 = Clock::now();
  runner.run_ensemble(req, sink, histogram);
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  p.info = runner.last_ensemble();
  p.kernel_s = p.info.kernel_ms * 1e-3;
  return p;
}

std::vector<std::vector<long long>> parse_systems(const std::string& s) {
  std::vector<std::vector<long long>> out;
  std::stringstream all(s);
  std::string one;
  while (std::getline(all, one, ':')) {
    std::vector<long long> spins;
    std::stringstream parts(one);
    std::string n;
    while (std::getline(parts, n, ',')) spins.push_back(std::atoll(n.c_str()));
    out.push_back(spins);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t n = 4000;
  int threads = 0;
  std::string systems = "400,40,4:200,40,8";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--trajectories") == 0) n = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--systems") == 0) systems = argv[i + 1];
  }
  try {
    std::printf("devices:\n%s", qtraj::cuda::device_summary().c_str());
    std::printf("%-12s %7s %6s %11s %11s %7s %11s %11s %7s %9s %11s %9s\n", "system", "traj",
                "d_max", "block_t/s", "batched_t/s", "ratio", "blk_kern_s", "bat_kern_s", "steps",
                "groups", "columns", "max_diff");
    const int setup_threads =
        threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (const auto& spins : parse_systems(systems)) {
      const qtraj::RunConfig cfg = qtraj::bench::trajectory_config(spins, n, setup_threads);
      const std::vector<double> times = cfg.time.times();
      const auto channels = qtraj::collapse_channels(cfg.model);
      const qtraj::bench::FirstComponents components(cfg.model);
      qtraj::trajectory::TrajectorySystem system(cfg.model, channels, components.chosen, true,
                                                 false, setup_threads);
      qtraj::cuda::TrajectoryBatchRunner runner(system);
      qtraj::cuda::EnsembleRequest req;
      for (std::int64_t c = 0; c <= 256; ++c)
        req.chunk_begin.push_back(c * (n / 256) + std::min<std::int64_t>(c, n % 256));
      req.seed = cfg.solver.seed;
      req.times = times;
      for (const auto& ch : channels) req.channel_reservoir.push_back(ch.reservoir);
      req.num_reservoirs = static_cast<int>(spins.size()) - 1;
      const std::size_t values = times.size() * 2 * spins.size();
      const Pass block = run(runner, req, false, values);
      const Pass batched = run(runner, req, true, values);
      double diff = 0.0;
      for (std::size_t q = 0; q < values; ++q)
        diff = std::max(diff, std::abs(batched.agg.mean(q) - block.agg.mean(q)) /
                                  (1.0 + std::abs(block.agg.mean(q))));
      std::string name;
      for (std::size_t i = 0; i < spins.size(); ++i) name += (i ? "," : "(") + std::to_string(spins[i]);
      name += ")";
      std::printf("%-12s %7lld %6d %11.4g %11.4g %7.2f %11.4g %11.4g %7lld %9lld %11lld %9.2e\n",
                  name.c_str(), static_cast<long long>(n), system.view().max_sector_dim,
                  n / block.seconds, n / batched.seconds, block.seconds / batched.seconds,
                  block.kernel_s, batched.kernel_s, batched.info.sector_steps,
                  batched.info.sector_products, batched.info.sector_columns, diff);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtraj_cuda_sector_batch_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
