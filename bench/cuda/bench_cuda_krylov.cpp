// qtraj_cuda_krylov_bench: the Krylov propagator on the GPU vs the CPU backend, trajectories/s side
// by side, on the large Krylov case (bench/krylov/large_2000_200_20.toml): N = (2000,200,20), first
// domain excited, the default chain, t to 300 on a 61-point log grid from 1e-4, seed 1.
//
//   ./qtraj_cuda_krylov_bench [--trajectories 1056] [--cpu-trajectories 160] [--threads 16]
//                             [--spins 2000,200,20] [--blocks 0,64]
//
// First the CPU backend (one line), then one row per GPU block size (0: automatic), each printed
// as soon as it is measured. The lean bundle is built once on the host (set-up, excluded from
// both rates). Columns:
//   upload_s    its ladder tables copied to the device (TrajectoryBatchRunner constructor);
//   gpu_t/s     TrajectoryBatchRunner::run_ensemble (Krylov kernel, device aggregation), wall;
//   kern_t/s    the same run's kernels alone (CUDA events);
//   cpu_t/s     solve_trajectories with backend = "cpu" on --threads threads, minus setup_s;
//   gpu/cpu     gpu_t/s over cpu_t/s (target: >= 50 with 16 CPU threads);
//   gpu<Jz>/N   domain 1 at t = 300 (a sanity column: the CPU line's mean +- SE estimates it too).
// scripts/gpu-check.sh run runs it; figures go to bench/RESULTS.md (docs/cuda.md section 1).
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
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/system.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char* arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

/// "a,b,c" -> {a, b, c}.
std::vector<long long> int_list(const char* p) {
  std::vector<long long> out;
  while (*p) {
    char* end = nullptr;
    out.push_back(std::strtoll(p, &end, 10));
    if (end == p) break;
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

/// bench/krylov/large_2000_200_20.toml with other spins / counts.
qtraj::RunConfig large_config(const std::vector<long long>& spins, std::int64_t trajectories,
                              int threads) {
  qtraj::RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(
        qtraj::InitialState::parse(i == 0 ? "excited" : "ground", spins[i], "bench"));
  c.time.end = 300.0;
  c.time.points = 61;
  c.time.spacing = qtraj::TimeGrid::Spacing::log;
  c.time.start = 1e-4;
  c.solver.kind = "trajectories";
  c.solver.trajectories = trajectories;
  c.solver.seed = 1;
  c.solver.threads = threads;
  c.solver.propagator = "krylov";
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n_gpu = std::atoll(arg(argc, argv, "--trajectories", "1056"));
  const std::int64_t n_cpu = std::atoll(arg(argc, argv, "--cpu-trajectories", "160"));
  const int threads = std::atoi(arg(argc, argv, "--threads", "16"));
  const std::vector<long long> blocks = int_list(arg(argc, argv, "--blocks", "0"));
  const std::vector<long long> spins = int_list(arg(argc, argv, "--spins", "2000,200,20"));
  try {
    std::printf("devices:\n%s", qtraj::cuda::device_summary().c_str());
    std::printf("CPU threads: %d (hardware: %u)\n", threads, std::thread::hardware_concurrency());
    const qtraj::RunConfig cfg = large_config(spins, n_gpu, threads);
    const std::vector<double> times = cfg.time.times();
    const std::size_t last = times.size() - 1;
    const auto channels = qtraj::collapse_channels(cfg.model);
    const qtraj::bench::FirstComponents components(cfg.model);
    const auto& chosen = components.chosen;
    std::string name = "(";
    for (std::size_t i = 0; i < spins.size(); ++i) name += (i ? "," : "") + std::to_string(spins[i]);
    name += ")";

    auto t0 = Clock::now();
    const qtraj::trajectory::TrajectorySystem system(cfg.model, channels, chosen, false, false);
    const double setup_s = seconds_since(t0);

    // CPU backend first (its duration is predictable; a GPU row cut off by a timeout still
    // leaves this one and the rows before it in the log).
    qtraj::RunConfig cpu_cfg = cfg;
    cpu_cfg.solver.trajectories = n_cpu;
    t0 = Clock::now();
    const qtraj::Result r = qtraj::solve_trajectories(cpu_cfg);
    const double cpu_total_s = seconds_since(t0);
    const double cpu_rate = n_cpu / std::max(cpu_total_s - setup_s, 1e-9);
    std::printf("%s: set-up %.2f s; CPU backend %lld trajectories on %d threads in %.2f s (set-up "
                "included) = %.4g trajectories/s without set-up; <J_1^z>/N_1(t_end) = %.6f +- %.2g\n",
                name.c_str(), setup_s, static_cast<long long>(n_cpu), threads, cpu_total_s, cpu_rate,
                r.jz_over_n_mean(last, 0), r.jz_over_n_stderr(last, 0));
    std::printf("\n%-16s %8s %8s %9s %10s %10s %10s %8s %5s %6s %4s %11s\n", "system", "gpu_traj",
                "upload_s", "gpu_s", "gpu_t/s", "kern_t/s", "cpu_t/s", "gpu/cpu", "block", "grid",
                "shm", "gpu<Jz>/N");
    std::fflush(stdout);

    qtraj::cuda::EnsembleRequest req;
    for (std::int64_t c = 0; c <= 256; ++c)
      req.chunk_begin.push_back(c * (n_gpu / 256) + std::min<std::int64_t>(c, n_gpu % 256));
    req.seed = cfg.solver.seed;
    req.propagator.kind = qtraj::cuda::PropagatorSettings::Kind::krylov;
    req.propagator.rtol = cfg.solver.rtol;
    req.propagator.atol = cfg.solver.atol;
    req.times = times;
    int num_res = 0;
    for (const auto& ch : channels) {
      req.channel_reservoir.push_back(ch.reservoir);
      num_res = std::max(num_res, ch.reservoir + 1);
    }
    req.num_reservoirs = num_res;
    const std::size_t values = times.size() * 2 * spins.size();
    // One row per block size (0: the runner's automatic choice). The Krylov kernel's serial parts
    // (rank 0's O(m^3) eigensolve, the scalar step and root searches every rank repeats) do not
    // shrink with the block, so smaller blocks (more of them resident) may win: measure.
    for (long long block : blocks) {
      qtraj::cuda::LaunchSettings launch;
      launch.block_size = static_cast<int>(block);
      t0 = Clock::now();
      qtraj::cuda::TrajectoryBatchRunner runner(system, launch);
      const double upload_s = seconds_since(t0);
      qtraj::trajectory::Aggregator ens(values);
      qtraj::cuda::EnsembleSink sink;
      sink.chunk = [&](std::int64_t, std::int64_t count, const double* mean, const double* m2) {
        ens.merge(qtraj::trajectory::Aggregator::from_state(
            count, std::vector<double>(mean, mean + values), std::vector<double>(m2, m2 + values)));
      };
      sink.progress = [&](std::int64_t done) {
        std::fprintf(stderr, "gpu (block %lld): %lld/%lld trajectories after %.1f s\n", block,
                     static_cast<long long>(done), static_cast<long long>(n_gpu), seconds_since(t0));
      };
      std::vector<std::vector<std::int64_t>> histogram;
      t0 = Clock::now();
      runner.run_ensemble(req, sink, histogram);
      const double gpu_s = seconds_since(t0);
      const double kernel_s = runner.last_ensemble().kernel_ms * 1e-3;
      const auto& launched = runner.last_launch();
      const double gpu_rate = n_gpu / gpu_s;
      std::printf("%-16s %8lld %8.2f %9.2f %10.4g %10.4g %10.4g %8.2f %5d %6d %4s %11.6f\n",
                  name.c_str(), static_cast<long long>(n_gpu), upload_s, gpu_s, gpu_rate,
                  n_gpu / kernel_s, cpu_rate, gpu_rate / cpu_rate, launched.block_size,
                  launched.grid_size, launched.shared_workspace ? "yes" : "no",
                  ens.mean(values - 2 * spins.size()) / static_cast<double>(spins[0]));
      std::printf("  workspace %lld bytes per block\n", launched.workspace_bytes);
      std::fflush(stdout);
    }
  } catch (const qtraj::Error& e) {
    std::fprintf(stderr, "qtraj_cuda_krylov_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
