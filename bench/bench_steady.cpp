// Steady solver (docs/steady_state.md) on the paper's systems, first domain excited, chain
// reservoirs: N = (40, 2), (12, 6, 2), (8, 6, 5, 1), (60, 30, 10); arguments: threads, eigensolver
// (0: LAPACK dsyevd, 1: Eigen's SelfAdjointEigenSolver), measured side by side in one run.
//   ./build/bench_steady --benchmark_counters_tabular=true
// The larger systems (120, 60, 20) and (400, 40, 4) run through the CLI: bench/steady_large.sh.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "qtraj/exact/steady_state.hpp"
#include "qtraj/model/sector_operators.hpp"
#include "qtraj/solvers.hpp"

namespace {

qtraj::RunConfig config(const std::vector<long long>& spins, int threads) {
  qtraj::RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(qtraj::InitialState::parse(i == 0 ? "excited" : "ground", spins[i],
                                                         "bench"));
  c.solver.kind = "steady";
  c.solver.threads = threads;
  return c;
}

// Arguments: threads, eigensolver (0: LAPACK dsyevd where built, 1: Eigen). Runs on one
// DickeSpace (first domain excited) through exact::steady_state.
void run(benchmark::State& state, const std::vector<long long>& spins) {
  const qtraj::RunConfig c = config(spins, static_cast<int>(state.range(0)));
  std::vector<int> two_j(spins.begin(), spins.end());
  const qtraj::DickeSpace space(two_j);
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
  std::vector<int> k(spins.size(), 0);
  k[0] = two_j[0];
  psi[static_cast<std::size_t>(space.index(k))] = 1.0;
  qtraj::exact::SteadyOptions options;
  options.threads = static_cast<int>(state.range(0));
  options.eigensolver = state.range(1) == 0 ? qtraj::exact::SteadyOptions::Eigensolver::lapack
                                            : qtraj::exact::SteadyOptions::Eigensolver::eigen;
  if (state.range(1) == 0 && !qtraj::exact::lapack_available()) {
    state.SkipWithError("built without LAPACKE");
    return;
  }
  const auto channels = qtraj::collapse_channels(c.model);
  double emitted = 0.0;
  for (auto _ : state) {
    const auto s = qtraj::exact::steady_state(space, channels, psi, options);
    emitted = s.emitted.sum();
    benchmark::DoNotOptimize(emitted);
  }
  state.counters["emitted"] = emitted;
}

void BM_Steady_40_2(benchmark::State& s) { run(s, {40, 2}); }
void BM_Steady_12_6_2(benchmark::State& s) { run(s, {12, 6, 2}); }
void BM_Steady_8_6_5_1(benchmark::State& s) { run(s, {8, 6, 5, 1}); }
void BM_Steady_60_30_10(benchmark::State& s) { run(s, {60, 30, 10}); }

BENCHMARK(BM_Steady_40_2)->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Steady_12_6_2)->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Steady_8_6_5_1)->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Steady_60_30_10)->Args({1, 0})->Args({1, 1})->Args({2, 0})->Args({2, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

// One eigensystem of the largest swept sector of (120, 60, 20) (n = 120, d = 1281), the step
// that dominates the large runs. Argument: 0 LAPACK dsyevd, 1 Eigen.
void BM_SectorEigensystem_120_60_20(benchmark::State& state) {
  if (state.range(0) == 0 && !qtraj::exact::lapack_available()) {
    state.SkipWithError("built without LAPACKE");
    return;
  }
  const qtraj::DickeSpace space({120, 60, 20});
  qtraj::Model model;
  model.spins = {120, 60, 20};
  const Eigen::MatrixXd k = qtraj::no_jump_generator(space, qtraj::collapse_channels(model), 120);
  const auto which = state.range(0) == 0 ? qtraj::exact::SteadyOptions::Eigensolver::lapack
                                         : qtraj::exact::SteadyOptions::Eigensolver::eigen;
  Eigen::VectorXd lambda;
  Eigen::MatrixXd vectors;
  for (auto _ : state) {
    if (!qtraj::exact::symmetric_eigen(k, which, lambda, vectors)) state.SkipWithError("failed");
    benchmark::DoNotOptimize(vectors.data());
  }
  state.counters["d"] = static_cast<double>(k.rows());
}
BENCHMARK(BM_SectorEigensystem_120_60_20)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
