// Steady solver (issue #12) on the paper's systems, first domain excited, chain reservoirs:
// N = (40, 2), (12, 6, 2), (8, 6, 5, 1), (60, 30, 10); threads as given (0: all cores).
//   ./build/bench_steady --benchmark_counters_tabular=true
// The larger systems (120, 60, 20) and (400, 40, 4) run through the CLI: bench/steady_large.sh.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

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

void run(benchmark::State& state, const std::vector<long long>& spins) {
  const qtraj::RunConfig c = config(spins, static_cast<int>(state.range(0)));
  double last = 0.0;
  for (auto _ : state) {
    const qtraj::Result r = qtraj::solve_steady(c);
    last = r.jz_over_n_mean(0, spins.size() - 1);
    benchmark::DoNotOptimize(last);
  }
  state.counters["jz_last_over_n"] = last;
}

void BM_Steady_40_2(benchmark::State& s) { run(s, {40, 2}); }
void BM_Steady_12_6_2(benchmark::State& s) { run(s, {12, 6, 2}); }
void BM_Steady_8_6_5_1(benchmark::State& s) { run(s, {8, 6, 5, 1}); }
void BM_Steady_60_30_10(benchmark::State& s) { run(s, {60, 30, 10}); }

BENCHMARK(BM_Steady_40_2)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Steady_12_6_2)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Steady_8_6_5_1)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Steady_60_30_10)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
