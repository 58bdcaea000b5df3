// qtraj_cuda_bench: trajectories per second of the CUDA backend vs the CPU backend, on the
// settings of bench/bench_trajectories.cpp (first domain excited, chain reservoirs, t = 0..100,
// 201 linear output points, spectral propagator), for N = (12, 6, 2) and (40, 2).
//
//   ./build-cuda4/qtraj_cuda_bench [--trajectories 100000] [--cpu-trajectories 10000]
//                                  [--batch 25000] [--block 0] [--threads 0]
//
// GPU end-to-end = TrajectoryBatchRunner::run per batch (kernel, copy back) plus the host
// Aggregator over every trajectory's observables, as solve_trajectories would do; "kernel" counts
// the kernel time alone (CUDA events). Upload of the bundle is timed separately. CPU =
// solve_trajectories with backend = "cpu" (all of it: bundles, trajectories, aggregation).
// Status when written: compiled with nvcc 13; never run on a GPU, so no numbers are recorded yet.
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
  std::vector<std::vector<qtraj::DomainComponent>> comps;
  std::vector<const qtraj::DomainComponent*> chosen;
  for (int i = 0; i < cfg.model.num_domains(); ++i)
    comps.push_back(qtraj::initial_components(cfg.model.initial[i], cfg.model.spins[i]));
  for (auto& c : comps) chosen.push_back(&c[0]);

  // GPU: bundle build + upload, then batches with host aggregation.
  auto t0 = Clock::now();
  qtraj::trajectory::TrajectorySystem system(cfg.model, channels, chosen, true, false);
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
  try {
    std::printf("devices:\n%s", qtraj::cuda::device_summary().c_str());
    std::printf("CPU threads: %d\n\n", threads > 0 ? threads
                                                  : static_cast<int>(std::thread::hardware_concurrency()));
    std::printf("%-12s %9s %9s %9s %12s %12s %12s %9s %6s %6s %4s %10s %10s\n", "system", "gpu_traj",
                "upload_s", "gpu_s", "gpu_traj/s", "kernel_t/s", "cpu_traj/s", "speedup", "block",
                "grid", "shm", "gpu<Jz>/N", "cpu<Jz>/N");
    for (const auto& spins : {std::vector<long long>{12, 6, 2}, std::vector<long long>{40, 2}}) {
      const Row r = measure(spins, n_gpu, n_cpu, batch, block, threads);
      const double gpu_rate = r.gpu_trajectories / r.gpu_s;
      const double cpu_rate = r.cpu_trajectories / r.cpu_s;
      std::printf("%-12s %9lld %9.3f %9.3f %12.4g %12.4g %12.4g %9.2f %6d %6d %4s %10.5f %10.5f\n",
                  r.system.c_str(), static_cast<long long>(r.gpu_trajectories), r.upload_s, r.gpu_s,
                  gpu_rate, r.gpu_trajectories / r.kernel_s, cpu_rate, gpu_rate / cpu_rate, r.block,
                  r.grid, r.shared ? "yes" : "no", r.gpu_mean_last, r.cpu_mean_last);
    }
  } catch (const qtraj::Error& e) {
    std::fprintf(stderr, "qtraj_cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
