// qtraj_cuda_bench: trajectories per second of the CUDA backend vs the CPU backend, on the
// settings of bench/bench_trajectories.cpp (first domain excited, chain reservoirs, t = 0..100,
// 201 linear output points, spectral propagator), for N = (12, 6, 2) and (40, 2).
//
//   ./build-cuda4/qtraj_cuda_bench [--trajectories 100000] [--cpu-trajectories 10000]
//                                  [--batch 25000] [--block 0] [--threads 0] [--big 0]
//
// Columns:
//   old_t/s    the former host loop: TrajectoryBatchRunner::run per batch (kernel, copy back every
//              trajectory's observables) plus the host Aggregator over them;
//   kernel_t/s the trajectory kernel alone in that loop (CUDA events);
//   ens_t/s    TrajectoryBatchRunner::run_ensemble over 256 chunks: device aggregation, batches,
//              streams, O(n_t M) per chunk copied back (what solve_trajectories now does after
//              the bundles are built); ens_kern_t/s its kernels alone (trajectories + reduction);
//   e2e_t/s    solve_trajectories with backend = "cuda", all of it (bundles, upload, ensemble);
//   cpu_t/s    solve_trajectories with backend = "cpu" (bundles, trajectories, aggregation).
// Upload of the bundle is timed separately (upload_s). scripts/gpu-check.sh runs it; figures go
// to bench/RESULTS.md (docs/cuda.md section 1).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}


struct Row {
  std::string system;
  std::int64_t gpu_trajectories = 0, cpu_trajectories = 0;
  double upload_s = 0, gpu_s = 0, kernel_s = 0, cpu_s = 0;
  double ens_s = 0, ens_kernel_s = 0, e2e_s = 0;
  int batches = 0;
  double ens_mean_last = 0;
  int block = 0, grid = 0;
  bool shared = false;
  double gpu_mean_last = 0, cpu_mean_last = 0;  // <J_1^z> at t_end: a sanity column
};

Row measure(const std::vector<long long>& spins, std::int64_t n_gpu, std::int64_t n_cpu,
            std::int64_t batch, int block, int threads) {
  Row row;
  for (std::size_t i = 0; i < spins.size(); ++i)
    row.system += (i ? "," : "(") + std::to_string(spins[i]);
  row.system += ")";
  row.gpu_trajectories = n_gpu;
  row.cpu_trajectories = n_cpu;
  const qtraj::RunConfig cfg = qtraj::bench::trajectory_config(spins, n_gpu, threads);
  const std::vector<double> times = cfg.time.times();
  const auto channels = qtraj::collapse_channels(cfg.model);
  const qtraj::bench::FirstComponents components(cfg.model);
  const auto& chosen = components.chosen;

  // GPU: bundle build + upload, then batches with host aggregation.
  auto t0 = Clock::now();
  const int setup_threads =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  qtraj::trajectory::TrajectorySystem system(cfg.model, channels, chosen, true, false, setup_threads);
  qtraj::cuda::LaunchSettings launch;
  launch.block_size = block;
  qtraj::cuda::TrajectoryBatchRunner runner(system, launch);
  row.upload_s = seconds_since(t0);
  const std::size_t values = times.size() * 2 * spins.size();
  qtraj::trajectory::Aggregator agg(values);
  qtraj::cuda::BatchOutput out;
  t0 = Clock::now();
  for (std::int64_t first = 0; first < n_gpu; first += batch) {
    const std::int64_t count = std::min(batch, n_gpu - first);
    runner.run(first, count, cfg.solver.seed, qtraj::cuda::PropagatorSettings{}, times, 0, 0, out);
    row.kernel_s += runner.last_launch().kernel_ms * 1e-3;
    for (std::int64_t r = 0; r < count; ++r) agg.add(out.obs_of(r));
  }
  row.gpu_s = seconds_since(t0);
  row.block = runner.last_launch().block_size;
  row.grid = runner.last_launch().grid_size;
  row.shared = runner.last_launch().shared_workspace;
  row.gpu_mean_last = agg.mean(values - 2 * spins.size()) / spins[0];

  // GPU ensemble: chunks aggregated on the device.
  qtraj::cuda::EnsembleRequest req;
  for (std::int64_t c = 0; c <= 256; ++c)
    req.chunk_begin.push_back(c * (n_gpu / 256) + std::min<std::int64_t>(c, n_gpu % 256));
  req.seed = cfg.solver.seed;
  req.times = times;
  for (const auto& ch : channels) req.channel_reservoir.push_back(ch.reservoir);
  req.num_reservoirs = static_cast<int>(spins.size()) - 1;
  qtraj::trajectory::Aggregator ens(values);
  qtraj::cuda::EnsembleSink sink;
  sink.chunk = [&](std::int64_t, std::int64_t count, const double* mean, const double* m2) {
    ens.merge(qtraj::trajectory::Aggregator::from_state(
        count, std::vector<double>(mean, mean + values), std::vector<double>(m2, m2 + values)));
  };
  std::vector<std::vector<std::int64_t>> histogram;
  t0 = Clock::now();
  runner.run_ensemble(req, sink, histogram);
  row.ens_s = seconds_since(t0);
  row.ens_kernel_s = runner.last_ensemble().kernel_ms * 1e-3;
  row.batches = runner.last_ensemble().batches;
  row.ens_mean_last = ens.mean(values - 2 * spins.size()) / spins[0];

  // GPU end to end through the solver (bundles, upload, ensemble).
  qtraj::RunConfig gpu_cfg = cfg;
  gpu_cfg.solver.backend = "cuda";
  t0 = Clock::now();
  (void)qtraj::solve_trajectories(gpu_cfg);
  row.e2e_s = seconds_since(t0);

  // CPU backend.
  qtraj::RunConfig cpu_cfg = cfg;
  cpu_cfg.solver.trajectories = n_cpu;
  t0 = Clock::now();
  const qtraj::Result r = qtraj::solve_trajectories(cpu_cfg);
  row.cpu_s = seconds_since(t0);
  row.cpu_mean_last = r.jz_over_n_mean(static_cast<int>(times.size()) - 1, 0);
  return row;
}

std::int64_t arg_int(int argc, char** argv, const char* name, std::int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n_gpu = arg_int(argc, argv, "--trajectories", 100000);
  const std::int64_t n_cpu = arg_int(argc, argv, "--cpu-trajectories", 10000);
  const std::int64_t batch = arg_int(argc, argv, "--batch", 25000);
  const int block = static_cast<int>(arg_int(argc, argv, "--block", 0));
  const int threads = static_cast<int>(arg_int(argc, argv, "--threads", 0));
  // --big N: also (400,40,4) with N GPU and N/10 CPU trajectories (set-up included in e2e/cpu).
  const std::int64_t big = arg_int(argc, argv, "--big", 0);
  try {
    std::printf("devices:\n%s", qtraj::cuda::device_summary().c_str());
    std::printf("CPU threads: %d\n\n", threads > 0 ? threads
                                                  : static_cast<int>(std::thread::hardware_concurrency()));
    std::printf("%-12s %9s %9s %11s %11s %11s %11s %11s %11s %8s %8s %5s %6s %6s %4s %10s %10s %10s\n",
                "system", "gpu_traj", "upload_s", "old_t/s", "kernel_t/s", "ens_t/s",
                "ens_kern_t/s", "e2e_t/s", "cpu_t/s", "e2e/cpu", "ens/kern", "batch", "block",
                "grid", "shm", "old<Jz>/N", "ens<Jz>/N", "cpu<Jz>/N");
    struct Case {
      std::vector<long long> spins;
      std::int64_t gpu, cpu;
    };
    std::vector<Case> cases{{{12, 6, 2}, n_gpu, n_cpu}, {{40, 2}, n_gpu, n_cpu}};
    if (big > 0) cases.push_back({{400, 40, 4}, big, std::max<std::int64_t>(1, big / 10)});
    for (const Case& cs : cases) {
      const Row r = measure(cs.spins, cs.gpu, cs.cpu, batch, block, threads);
      const double gpu_rate = r.gpu_trajectories / r.gpu_s;
      const double cpu_rate = r.cpu_trajectories / r.cpu_s;
      const double ens_rate = r.gpu_trajectories / r.ens_s;
      const double ens_kernel_rate = r.gpu_trajectories / r.ens_kernel_s;
      const double e2e_rate = r.gpu_trajectories / r.e2e_s;
      std::printf("%-12s %9lld %9.3f %11.4g %11.4g %11.4g %11.4g %11.4g %11.4g %8.2f %8.2f %5d %6d %6d %4s %10.5f %10.5f %10.5f\n",
                  r.system.c_str(), static_cast<long long>(r.gpu_trajectories), r.upload_s,
                  gpu_rate, r.gpu_trajectories / r.kernel_s, ens_rate, ens_kernel_rate, e2e_rate,
                  cpu_rate, e2e_rate / cpu_rate, ens_rate / ens_kernel_rate, r.batches, r.block,
                  r.grid, r.shared ? "yes" : "no", r.gpu_mean_last, r.ens_mean_last,
                  r.cpu_mean_last);
    }
  } catch (const qtraj::Error& e) {
    std::fprintf(stderr, "qtraj_cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
