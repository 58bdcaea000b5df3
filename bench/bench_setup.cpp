// Set-up of a trajectory run on the CPU: the per-sector eigendecompositions of K_n
// (TrajectorySystem, spectral data only) for large first domains, on 1 and 2 threads
// (set-up on all cores); and the host part of the device set-up (HostPartOfDevice:
// everything but the eigensolves, which cuSOLVER does on the GPU: bench/cuda/bench_cuda_setup.cpp). First domain excited, the default chain at zero temperature.
//   ./build/bench_setup --benchmark_counters_tabular=true
// Arguments: (threads). The data is bit-identical for any thread count
// (test SystemSetup.ThreadedEigensystemsAreBitIdentical).
#include <benchmark/benchmark.h>

#include <vector>

#include "qtraj/model/model.hpp"
#include "qtraj/trajectory/system.hpp"
#include "trajectory_bench_config.hpp"

namespace {

/// no_solve = true: the host part of the CUDA backend's device set-up (docs/cuda.md section 3): the
/// bundle is built through the batched-eigensolver hook with a solver that does nothing (K_n
/// built on the threads, copied, transposed back): the set-up time left when the eigensolves
/// themselves cost nothing. (The data is then not an eigensystem: timing only.)
void setup(benchmark::State& state, const std::vector<long long>& spins, bool no_solve = false) {
  const qtraj::RunConfig c = qtraj::bench::trajectory_config(spins, 1, 1);
  const auto channels = qtraj::collapse_channels(c.model);
  const qtraj::bench::FirstComponents components(c.model);
  const auto& chosen = components.chosen;
  for (auto _ : state) {
    qtraj::trajectory::SectorEigensolver none;
    if (no_solve) none = [](const std::vector<qtraj::trajectory::SymmetricEigenTask>&) {};
    qtraj::trajectory::TrajectorySystem system(c.model, channels, chosen, true, false,
                                               static_cast<int>(state.range(0)), none);
    benchmark::DoNotOptimize(system.view().lambda);
  }
}

void BM_Setup_400_40_4(benchmark::State& s) { setup(s, {400, 40, 4}); }
void BM_Setup_200_40_8(benchmark::State& s) { setup(s, {200, 40, 8}); }
void BM_SetupHostPartOfDevice_400_40_4(benchmark::State& s) { setup(s, {400, 40, 4}, true); }
void BM_SetupHostPartOfDevice_200_40_8(benchmark::State& s) { setup(s, {200, 40, 8}, true); }

BENCHMARK(BM_Setup_400_40_4)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(2)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK(BM_Setup_200_40_8)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(2)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

BENCHMARK(BM_SetupHostPartOfDevice_400_40_4)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(2)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK(BM_SetupHostPartOfDevice_200_40_8)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(2)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
