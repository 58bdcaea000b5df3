// qtraj_cuda_krylov_bench: the Krylov propagator on the GPU vs the CPU backend, trajectories/s side
// by side, on issue #9's large case (bench/krylov/large_2000_200_20.toml): N = (2000,200,20), first
// domain excited, the default chain, t to 300 on a 61-point log grid from 1e-4, seed 1.
//
//   ./qtraj_cuda_krylov_bench [--trajectories 1056] [--cpu-trajectories 160] [--threads 16]
//                             [--spins 2000,200,20] [--block 0]
//
// Columns:
//   setup_s     one lean bundle built on the host (both backends need it; excluded from the rates);
//   upload_s    its ladder tables copied to the device (TrajectoryBatchRunner constructor);
//   gpu_t/s     TrajectoryBatchRunner::run_ensemble (Krylov kernel, device aggregation), wall;
//   kern_t/s    the same run's kernels alone (CUDA events);
//   cpu_t/s     solve_trajectories with backend = "cpu" on --threads threads, minus setup_s;
//   gpu/cpu     gpu_t/s over cpu_t/s (issue #9's target: >= 50 with 16 CPU threads);
//   <Jz>/N      domain 1 at t = 300 from each side (a sanity column: they estimate the same mean).
// Status when written: compiled with nvcc 13; never run on a GPU, so no numbers are recorded yet
// (scripts/gpu-check.sh run runs it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

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
  const int block = std::atoi(arg(argc, argv, "--block", "0"));
  std::vector<long long> spins;
  for (const char* p = arg(argc, argv, "--spins", "2000,200,20"); *p;) {
    char* end = nullptr;
    spins.push_back(std::strtoll(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
  }
  try {
    std::printf("devices:\n%s", qtraj::cuda::device_summary().c_str());
    std::printf("CPU threads: %d (hardware: %u)\n", threads, std::thread::hardware_concurrency());
    const qtraj::RunConfig cfg = large_config(spins, n_gpu, threads);
    const std::vector<double> times = cfg.time.times();
    const auto channels = qtraj::collapse_channels(cfg.model);
    std::vector<std::vector<qtraj::DomainComponent>> comps;
    std::vector<const qtraj::DomainComponent*> chosen;
    for (int i = 0; i < cfg.model.num_domains(); ++i)
      comps.push_back(qtraj::initial_components(cfg.model.initial[i], cfg.model.spins[i]));
    for (auto& c : comps) chosen.push_back(&c[0]);

    auto t0 = Clock::now();
    const qtraj::trajectory::TrajectorySystem system(cfg.model, channels, chosen, false, false);
    const double setup_s = seconds_since(t0);
    qtraj::cuda::LaunchSettings launch;
    launch.block_size = block;
    t0 = Clock::now();
    qtraj::cuda::TrajectoryBatchRunner runner(system, launch);
    const double upload_s = seconds_since(t0);

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
    qtraj::trajectory::Aggregator ens(values);
    qtraj::cuda::EnsembleSink sink;
    sink.chunk = [&](std::int64_t, std::int64_t count, const double* mean, const double* m2) {
      ens.merge(qtraj::trajectory::Aggregator::from_state(
          count, std::vector<double>(mean, mean + values), std::vector<double>(m2, m2 + values)));
    };
    sink.progress = [&](std::int64_t done) {
      std::fprintf(stderr, "gpu: %lld/%lld trajectories after %.1f s\n", static_cast<long long>(done),
                   static_cast<long long>(n_gpu), seconds_since(t0));
    };
    std::vector<std::vector<std::int64_t>> histogram;
    t0 = Clock::now();
    runner.run_ensemble(req, sink, histogram);
    const double gpu_s = seconds_since(t0);
    const double kernel_s = runner.last_ensemble().kernel_ms * 1e-3;
    const auto& launched = runner.last_launch();
    const double gpu_mean = ens.mean(values - 2 * spins.size()) / static_cast<double>(spins[0]);

    qtraj::RunConfig cpu_cfg = cfg;
    cpu_cfg.solver.trajectories = n_cpu;
    t0 = Clock::now();
    const qtraj::Result r = qtraj::solve_trajectories(cpu_cfg);
    const double cpu_total_s = seconds_since(t0);
    const double cpu_s = std::max(cpu_total_s - setup_s, 1e-9);
    const std::size_t last = times.size() - 1;

    const double gpu_rate = n_gpu / gpu_s, cpu_rate = n_cpu / cpu_s;
    std::printf("\n%-16s %8s %8s %8s %9s %10s %10s %8s %10s %8s %5s %6s %4s %11s %11s %9s\n", "system",
                "gpu_traj", "setup_s", "upload_s", "gpu_s", "gpu_t/s", "kern_t/s", "cpu_traj",
                "cpu_t/s", "gpu/cpu", "block", "grid", "shm", "gpu<Jz>/N", "cpu<Jz>/N", "cpu_se");
    std::string name = "(";
    for (std::size_t i = 0; i < spins.size(); ++i) name += (i ? "," : "") + std::to_string(spins[i]);
    name += ")";
    std::printf("%-16s %8lld %8.2f %8.2f %9.2f %10.4g %10.4g %8lld %10.4g %8.2f %5d %6d %4s %11.6f %11.6f %9.2g\n",
                name.c_str(), static_cast<long long>(n_gpu), setup_s, upload_s, gpu_s, gpu_rate,
                n_gpu / kernel_s, static_cast<long long>(n_cpu), cpu_rate, gpu_rate / cpu_rate,
                launched.block_size, launched.grid_size, launched.shared_workspace ? "yes" : "no",
                gpu_mean, r.jz_over_n_mean(last, 0), r.jz_over_n_stderr(last, 0));
    std::printf("workspace %lld bytes per block; CPU side %.2f s in all (set-up included)\n",
                launched.workspace_bytes, cpu_total_s);
  } catch (const qtraj::Error& e) {
    std::fprintf(stderr, "qtraj_cuda_krylov_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
