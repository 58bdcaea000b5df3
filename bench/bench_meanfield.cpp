// Benchmarks of the mean-field (second-order cumulant) solver. Target: the paper's
// Fig. 3b run, N = (1e8, 1e5, 1e2), to t = 10 on a 500-point log grid, in under a second on
// one core.  Run:  ./build-mf/bench_meanfield --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "qtraj/meanfield/cumulant_equations.hpp"
#include "qtraj/meanfield/rosenbrock.hpp"
#include "qtraj/solvers.hpp"

namespace {

qtraj::RunConfig paper_run(const std::vector<long long>& n, double start, double end, int points) {
  qtraj::RunConfig c;
  c.model.spins = n;
  for (std::size_t i = 0; i < n.size(); ++i)
    c.model.initial.push_back(
        qtraj::InitialState::parse(i == 0 ? "excited" : "ground", n[i], "bench"));
  c.time.spacing = qtraj::TimeGrid::Spacing::log;
  c.time.start = start;
  c.time.end = end;
  c.time.points = points;
  c.solver.kind = "meanfield";
  c.solver.rtol = 1e-8;
  c.solver.atol = 1e-10;
  return c;
}

void run(benchmark::State& state, const qtraj::RunConfig& c) {
  std::int64_t steps = 0;
  for (auto _ : state) {
    auto r = qtraj::solve_meanfield(c);
    steps = std::get<std::int64_t>(r.attributes["meanfield_steps"]);
    benchmark::DoNotOptimize(r.jz_over_n_mean.data.data());
  }
  state.counters["steps"] = static_cast<double>(steps);
}

// Paper Fig. 3b: the target (< 1 s).
void BM_MeanField_Fig3b(benchmark::State& state) {
  run(state, paper_run({100000000, 100000, 100}, 1e-11, 10.0, 500));
}
BENCHMARK(BM_MeanField_Fig3b)->Unit(benchmark::kMillisecond);

// Paper Fig. 3a.
void BM_MeanField_Fig3a(benchmark::State& state) {
  run(state, paper_run({1000000, 10000, 100}, 1e-9, 10.0, 500));
}
BENCHMARK(BM_MeanField_Fig3a)->Unit(benchmark::kMillisecond);

// Closures: N = (60,30,10) to t = 20 on a 161-point log grid (scripts/meanfield_closure_table.py's
// run), closure z_right (arg 0, 12 unknowns) against fourth_order (arg 1, the generated hierarchy:
// 100 unknowns, equations built symbolically on every solve, included in the time).
void BM_MeanField_Closure_60_30_10(benchmark::State& state) {
  qtraj::RunConfig c = paper_run({60, 30, 10}, 1e-3, 20.0, 161);
  c.solver.closure = state.range(0) == 0 ? "z_right" : "fourth_order";
  state.SetLabel(c.solver.closure);
  run(state, c);
}
BENCHMARK(BM_MeanField_Closure_60_30_10)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// A longer chain, N_i = 10^(9 - i), M domains: M^2 + M variables, dense Jacobian.
void BM_MeanField_Chain(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  std::vector<long long> n;
  long long v = 1000000000;
  for (int i = 0; i < m; ++i, v = std::max(1LL, v / 10)) n.push_back(v);
  run(state, paper_run(n, 1e-12, 10.0, 500));
}
BENCHMARK(BM_MeanField_Chain)->Arg(5)->Arg(8)->Arg(20)->Unit(benchmark::kMillisecond);

// The same chain through the dense and the sparse LU paths of the integrator (solve_meanfield
// picks sparse above 56 unknowns).
void chain_direct(benchmark::State& state, bool sparse) {
  const int m = static_cast<int>(state.range(0));
  std::vector<long long> n;
  long long v = 1000000000;
  for (int i = 0; i < m; ++i, v = std::max(1LL, v / 10)) n.push_back(v);
  const auto c = paper_run(n, 1e-12, 10.0, 500);
  const qtraj::meanfield::CumulantEquations eq(c.model);
  const auto times = c.time.times();
  const auto rhs = [&](const Eigen::VectorXd& y, Eigen::VectorXd& dy) { eq.rhs(y, dy); };
  const auto store = [](std::size_t, const Eigen::VectorXd&) {};
  for (auto _ : state) {
    if (sparse)
      qtraj::meanfield::integrate_rodas4_sparse(
          rhs, [&](const Eigen::VectorXd& y, Eigen::SparseMatrix<double>& j) { eq.jacobian(y, j); },
          eq.pack(eq.initial_moments()), times, 1e-8, 1e-10, store);
    else
      qtraj::meanfield::integrate_rodas4(
          rhs, [&](const Eigen::VectorXd& y, Eigen::MatrixXd& j) { eq.jacobian(y, j); },
          eq.pack(eq.initial_moments()), times, 1e-8, 1e-10, store);
  }
}
void BM_MeanField_ChainDenseLU(benchmark::State& state) { chain_direct(state, false); }
void BM_MeanField_ChainSparseLU(benchmark::State& state) { chain_direct(state, true); }
BENCHMARK(BM_MeanField_ChainDenseLU)
    ->Arg(3)
    ->Arg(5)
    ->Arg(7)
    ->Arg(8)
    ->Arg(12)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MeanField_ChainSparseLU)
    ->Arg(3)
    ->Arg(5)
    ->Arg(7)
    ->Arg(8)
    ->Arg(12)
    ->Arg(20)
    ->Arg(30)
    ->Unit(benchmark::kMillisecond);

// One right-hand side evaluation and one Jacobian of the Fig. 3b system.
void BM_MeanField_RhsJacobian(benchmark::State& state) {
  const auto c = paper_run({100000000, 100000, 100}, 1e-11, 10.0, 500);
  const qtraj::meanfield::CumulantEquations eq(c.model);
  const Eigen::VectorXd y = eq.pack(eq.initial_moments());
  Eigen::VectorXd dy;
  Eigen::MatrixXd j;
  for (auto _ : state) {
    eq.rhs(y, dy);
    eq.jacobian(y, j);
    benchmark::DoNotOptimize(dy.data());
    benchmark::DoNotOptimize(j.data());
  }
}
BENCHMARK(BM_MeanField_RhsJacobian);

}  // namespace

BENCHMARK_MAIN();
