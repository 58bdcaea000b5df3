// solve_trajectories against the exact master-equation solver and analytic results
// (docs/design.md section 7): the trajectory mean of <J_i^z>/N_i lies within 4 standard errors of
// the exact value at every output time. Fixed seeds; the tolerances are statistical (4 sigma),
// never tuned. Test time on 2 cores: short grids (t_end 10-12, where the dynamics happens; 7-13
// points); the adaptive propagator (~10x the cost per trajectory) runs 2000 trajectories instead of
// 10^4 -- still a 4-sigma test, only with wider error bars.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <numeric>

#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
#include "trajectory/solver_test_helpers.hpp"
#include "tsan_test.hpp"

namespace qtraj {
namespace {

using trajectory_solver_testing::expect_within_4_sigma;
using trajectory_solver_testing::make_config;

const Dataset* find_dataset(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return &d;
  return nullptr;
}

// |mean - exact| <= 4 stderr at every time and domain (where stderr = 0, e.g. t = 0, the two must
// agree to rounding).
struct Run {
  const char* propagator;
  std::int64_t trajectories;
};

// All propagators against one exact solution (the exact solver dominates the test time).
void compare_with_exact(std::vector<long long> spins, std::vector<std::string> initial,
                        std::vector<Run> runs, double nbar = 0.0, double t_end = 12.0,
                        int points = 13) {
  RunConfig e = make_config(spins, initial, t_end, points, 1, "auto", nbar);
  e.solver.kind = "exact";
  e.solver.rtol = 1e-10;
  e.solver.atol = 1e-12;
  const Result exact = solve_exact(e);
  for (const auto& run : runs) {
    SCOPED_TRACE(run.propagator);
    const Result traj = solve_trajectories(
        make_config(spins, initial, t_end, points, run.trajectories, run.propagator, nbar));
    EXPECT_EQ(std::get<std::string>(traj.attributes.at("propagator")), run.propagator);
    expect_within_4_sigma(traj, exact);
  }
}

// The Krylov propagator (~10x the spectral cost per trajectory on these small sectors) runs 2000.
const std::vector<Run> kBoth = {{"spectral", 10000}, {"adaptive", 2000}, {"krylov", 2000}};

}  // namespace

TEST(TrajSolver, TwoSpinsRelaxToAQuarter) {
  // N = (1, 1), first excited: steady <J_i^z>/N_i = -1/4 for both (docs/design.md section 7).
  for (const char* prop : {"spectral", "adaptive", "krylov"}) {
    const Result r = solve_trajectories(make_config({1, 1}, {"excited", "ground"}, 60.0, 4, 10000, prop));
    for (int i = 0; i < 2; ++i)
      EXPECT_NEAR(r.jz_over_n_mean(3, i), -0.25, 4 * r.jz_over_n_stderr(3, i)) << prop;
    EXPECT_EQ(r.jz_over_n_mean(0, 0), 0.5);
    EXPECT_EQ(r.jz_over_n_stderr(0, 0), 0.0);
  }
}

TEST(TrajSolver, MatchesExact40And2) { compare_with_exact({40, 2}, {"excited", "ground"}, kBoth); }
TEST(TrajSolver, MatchesExact12And6And2) {
  compare_with_exact({12, 6, 2}, {"excited", "ground", "ground"}, kBoth);
}
TEST(TrajSolver, MatchesExact8And6And5And1) {
  compare_with_exact({8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}, kBoth);
}
TEST(TrajSolver, MatchesExactThermal) {
  compare_with_exact({4, 3, 1}, {"excited", "ground", "ground"}, kBoth, 0.5, 10.0, 11);
}
QTRAJ_TSAN_TEST(TrajSolver, MatchesExactMixedAndCoherentInitialStates) {
  // "product K" samples a j component per trajectory; "coherent" starts in a random sector with a
  // complex state.
  compare_with_exact({5, 3}, {"product 2", "coherent 1.0 0.3"}, kBoth, 0.0, 10.0, 11);
  compare_with_exact({4, 2, 2}, {"coherent 2.0 -0.5", "product 1", "dicke 1"}, kBoth, 0.2, 10.0, 11);
}

QTRAJ_TSAN_TEST(TrajSolver, BitIdenticalForAnyThreadCount) {
  RunConfig c = make_config({12, 6, 2}, {"excited", "ground", "ground"}, 20.0, 11, 1000, "spectral");
  c.solver.record_jumps = 7;
  c.solver.threads = 1;
  const Result one = solve_trajectories(c);
  for (int threads : {2, 3}) {
    c.solver.threads = threads;
    const Result r = solve_trajectories(c);
    EXPECT_EQ(r.jz_over_n_mean.data, one.jz_over_n_mean.data) << threads;
    EXPECT_EQ(r.jz_over_n_stderr.data, one.jz_over_n_stderr.data) << threads;
    EXPECT_EQ(r.excitations_mean.data, one.excitations_mean.data) << threads;
    ASSERT_EQ(r.extra.size(), one.extra.size());
    for (std::size_t d = 0; d < r.extra.size(); ++d) {
      EXPECT_EQ(r.extra[d].path, one.extra[d].path);
      EXPECT_TRUE(r.extra[d].values == one.extra[d].values) << r.extra[d].path;
    }
  }
}

TEST(TrajSolver, StandardErrorShrinksAsInverseSquareRoot) {
  RunConfig c = make_config({12, 6, 2}, {"excited", "ground", "ground"}, 20.0, 6, 2000, "spectral");
  const Result small = solve_trajectories(c);
  c.solver.trajectories = 8000;
  c.solver.seed = 99;
  const Result large = solve_trajectories(c);
  for (int i = 0; i < 3; ++i) {
    double ratio = 0;
    for (int k = 1; k < 6; ++k) ratio += small.jz_over_n_stderr(k, i) / large.jz_over_n_stderr(k, i);
    ratio /= 5;
    // sqrt(8000 / 2000) = 2; the stderr estimates themselves fluctuate by ~1/sqrt(2 n) ~ 2%.
    EXPECT_NEAR(ratio, 2.0, 0.15) << "domain " << i + 1;
  }
}

QTRAJ_TSAN_TEST(TrajSolver, JumpRecordsAndHistogram) {
  RunConfig c = make_config({3, 2}, {"excited", "ground"}, 40.0, 5, 500, "spectral", 0.1);
  c.solver.record_jumps = 6;
  std::vector<double> fractions;
  const Result r =
      solve_trajectories(c, {[&](double f, const std::string&) { fractions.push_back(f); }});
  ASSERT_FALSE(fractions.empty());
  EXPECT_EQ(fractions.back(), 1.0);
  EXPECT_EQ(r.solver, "trajectories");
  EXPECT_EQ(std::get<std::int64_t>(r.attributes.at("trajectories")), 500);
  EXPECT_EQ(std::get<std::int64_t>(r.attributes.at("seed")), 2024);
  EXPECT_EQ(std::get<std::string>(r.attributes.at("propagator")), "spectral");
  const Dataset* traj = find_dataset(r, "/jumps/trajectory");
  const Dataset* time = find_dataset(r, "/jumps/time");
  const Dataset* chan = find_dataset(r, "/jumps/channel");
  const Dataset* res = find_dataset(r, "/jumps/reservoir");
  const Dataset* hist = find_dataset(r, "/jump_counts/histogram");
  ASSERT_TRUE(traj && time && chan && res && hist);
  ASSERT_TRUE(find_dataset(r, "/jplus_jminus/mean") && find_dataset(r, "/jplus_jminus/stderr"));
  for (const auto& d : r.extra) EXPECT_TRUE(d.attributes.count("description")) << d.path;
  const auto& tv = std::get<std::vector<std::int64_t>>(traj->values);
  const auto& times = std::get<std::vector<double>>(time->values);
  const auto& cv = std::get<std::vector<std::int64_t>>(chan->values);
  const auto& rv = std::get<std::vector<std::int64_t>>(res->values);
  ASSERT_GT(tv.size(), 6u);  // thermal: several jumps per trajectory
  for (std::size_t j = 0; j < tv.size(); ++j) {
    EXPECT_GE(tv[j], 0);
    EXPECT_LT(tv[j], 6);
    EXPECT_GT(times[j], 0.0);
    EXPECT_LE(times[j], 40.0);
    if (j > 0 && tv[j] == tv[j - 1]) EXPECT_GT(times[j], times[j - 1]);
    if (j > 0) EXPECT_GE(tv[j], tv[j - 1]);
    EXPECT_TRUE(cv[j] == 0 || cv[j] == 1);  // reservoir 1: lowering 0, raising 1
    EXPECT_EQ(rv[j], 1);
  }
  ASSERT_EQ(hist->shape.size(), 2u);
  EXPECT_EQ(hist->shape[0], 1u);
  const auto& hv = std::get<std::vector<std::int64_t>>(hist->values);
  EXPECT_EQ(std::accumulate(hv.begin(), hv.end(), std::int64_t{0}), 500);
  // The recorded trajectories' jump counts appear in the histogram.
  for (std::int64_t t = 0; t < 6; ++t) {
    const auto count = std::count(tv.begin(), tv.end(), t);
    ASSERT_LT(static_cast<std::uint64_t>(count), hist->shape[1]);
    EXPECT_GT(hv[count], 0);
  }
}

TEST(TrajSolver, RejectsBadSettings) {
  RunConfig c = make_config({2, 1}, {"excited", "ground"}, 1.0, 3, 10, "magic");
  EXPECT_THROW(solve_trajectories(c), InputError);
  c.solver.propagator = "auto";
  c.solver.trajectories = 0;
  EXPECT_THROW(solve_trajectories(c), InputError);
}

}  // namespace qtraj

namespace qtraj {

TEST(TrajSolver, MatchesExactOnLogGrid) {
  // Log-spaced output (t = 0, then 0.01 .. 100): the spectral propagator needs no time step, so any
  // grid is exact; jumps between widely spaced outputs are handled the same way.
  trajectory_solver_testing::expect_log_grid_matches_exact("spectral", 100.0, 10000);
}

TEST(TrajSolver, RecordsTrajectoriesWithManyJumps) {
  // Hot reservoir: ~100 jumps per trajectory, beyond the initial record buffer (64): the solver
  // grows it and reruns the trajectory, which must reproduce the same jumps.
  RunConfig c = make_config({2, 1}, {"excited", "ground"}, 60.0, 3, 40, "spectral", 1.0);
  c.solver.record_jumps = 3;
  const Result r = solve_trajectories(c);
  const auto& tv = std::get<std::vector<std::int64_t>>(find_dataset(r, "/jumps/trajectory")->values);
  const auto& times = std::get<std::vector<double>>(find_dataset(r, "/jumps/time")->values);
  std::vector<std::int64_t> count(3, 0);
  for (auto t : tv) ++count[t];
  EXPECT_GT(*std::max_element(count.begin(), count.end()), 64);
  for (std::size_t j = 1; j < tv.size(); ++j)
    if (tv[j] == tv[j - 1]) EXPECT_GT(times[j], times[j - 1]);
  // Recording does not change the statistics: same means as without records.
  c.solver.record_jumps = 0;
  const Result plain = solve_trajectories(c);
  EXPECT_EQ(plain.jz_over_n_mean.data, r.jz_over_n_mean.data);
  // The histogram knows the recorded counts.
  const Dataset* hist = find_dataset(r, "/jump_counts/histogram");
  const auto& hv = std::get<std::vector<std::int64_t>>(hist->values);
  for (auto n : count) EXPECT_GT(hv[n], 0);
}

}  // namespace qtraj
