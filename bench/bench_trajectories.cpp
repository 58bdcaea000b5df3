// Trajectories per second of the CPU backend (targets: >= 100x QuTiP mcsolve's
// trajectories/s on one core for N = (12, 6, 2); (40, 2) with 10^5 trajectories in a few seconds
// on 2 cores). The paper's Fig. 2 setting: first domain excited, chain reservoirs, t = 0..100,
// 201 linear output points, spectral propagator (and the adaptive one for reference).
//   ./build/bench_trajectories --benchmark_counters_tabular=true
// Counter "traj/s" = trajectories per second of wall time; arguments = (trajectories, threads),
// threads 0 = all hardware threads.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "trajectory_bench_config.hpp"
#include "qtraj/solvers.hpp"

namespace {

void run(benchmark::State& state, const std::vector<long long>& spins, const std::string& prop) {
  const qtraj::RunConfig c = qtraj::bench::trajectory_config(
      spins, state.range(0), static_cast<int>(state.range(1)), prop);
  for (auto _ : state) {
    const qtraj::Result r = qtraj::solve_trajectories(c);
    benchmark::DoNotOptimize(r.jz_over_n_mean.data.data());
  }
  state.counters["traj/s"] = benchmark::Counter(
      static_cast<double>(state.range(0)) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Traj_12_6_2_Spectral(benchmark::State& s) { run(s, {12, 6, 2}, "spectral"); }
void BM_Traj_40_2_Spectral(benchmark::State& s) { run(s, {40, 2}, "spectral"); }
void BM_Traj_8_6_5_1_Spectral(benchmark::State& s) { run(s, {8, 6, 5, 1}, "spectral"); }
void BM_Traj_12_6_2_Adaptive(benchmark::State& s) { run(s, {12, 6, 2}, "adaptive"); }

BENCHMARK(BM_Traj_12_6_2_Spectral)->Args({10000, 1})->Args({10000, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Traj_40_2_Spectral)->Args({100000, 1})->Args({100000, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Traj_8_6_5_1_Spectral)->Args({10000, 1})->Args({10000, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Traj_12_6_2_Adaptive)->Args({1000, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
