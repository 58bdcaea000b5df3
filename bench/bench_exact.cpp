// Exact master-equation solver on the paper's Fig. 2 systems: N = (40, 2), (12, 6, 2),
// (8, 6, 5, 1), first domain excited, chain reservoirs, t = 0..1000 with 201 linear output
// points, default tolerances (rtol 1e-8, atol 1e-10).
//   ./build/bench_exact --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/solvers.hpp"

namespace {

qtraj::RunConfig fig2_config(const std::vector<long long>& spins) {
  qtraj::RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(qtraj::InitialState::parse(i == 0 ? "excited" : "ground", spins[i],
                                                         "bench"));
  c.time.end = 1000.0;
  c.time.points = 201;
  c.solver.kind = "exact";
  return c;
}

void run(benchmark::State& state, const std::vector<long long>& spins) {
  qtraj::exact::initialize_blas();  // as the CLI does at start
  const qtraj::RunConfig config = fig2_config(spins);
  std::int64_t steps = 0;
  for (auto _ : state) {
    const qtraj::Result r = qtraj::solve_exact(config);
    benchmark::DoNotOptimize(r.jz_over_n_mean.data.data());
    steps = std::get<std::int64_t>(r.attributes.at("exact_steps"));
  }
  state.counters["steps"] = static_cast<double>(steps);
}

void BM_Exact_40_2(benchmark::State& s) { run(s, {40, 2}); }
void BM_Exact_12_6_2(benchmark::State& s) { run(s, {12, 6, 2}); }
void BM_Exact_8_6_5_1(benchmark::State& s) { run(s, {8, 6, 5, 1}); }

BENCHMARK(BM_Exact_40_2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Exact_12_6_2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Exact_8_6_5_1)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

// One implicit stage solve (the top-down sweep: one transfer per sector, ~6 sum_n d_n^3 flops)
// of N = (60, 30, 10), chain, on a state with every sector 0..60 populated, per dense-kernel
// choice (bench/RESULTS.md, "Exact solver on BLAS"). Arg: BLAS threads (eigen: always one).
//   ./build/bench_exact --benchmark_filter=Stage
void stage(benchmark::State& state, qtraj::exact::DenseKernels kernels) {
  qtraj::Model model;
  model.spins = {60, 30, 10};
  const qtraj::DickeSpace space({60, 30, 10});
  const qtraj::exact::SectorSystem system(space, qtraj::collapse_channels(model), kernels);
  qtraj::exact::initialize_blas();
  const qtraj::exact::BlasThreads blas(static_cast<int>(state.range(0)));
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
  psi[static_cast<std::size_t>(space.index({60, 0, 0}))] = 1.0;
  Eigen::VectorXd r, z, f;
  system.solve_stage(0.05, system.initial_state(psi), r, f, 1e-8, 1e-10);  // populate 0..60
  for (auto _ : state) {
    system.solve_stage(0.01, r, z, f, 1e-8, 1e-10);
    benchmark::DoNotOptimize(z.data());
  }
}
void BM_Stage_60_30_10_Eigen(benchmark::State& s) { stage(s, qtraj::exact::DenseKernels::eigen); }
void BM_Stage_60_30_10_Blas(benchmark::State& s) { stage(s, qtraj::exact::DenseKernels::blas); }
BENCHMARK(BM_Stage_60_30_10_Eigen)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Stage_60_30_10_Blas)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
