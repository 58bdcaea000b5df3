// Exact master-equation solver on the paper's Fig. 2 systems: N = (40, 2), (12, 6, 2),
// (8, 6, 5, 1), first domain excited, chain reservoirs, t = 0..1000 with 201 linear output
// points, default tolerances (rtol 1e-8, atol 1e-10).
//   ./build/bench_exact --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

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

}  // namespace

BENCHMARK_MAIN();
