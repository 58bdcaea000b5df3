// Tests of the zero-temperature steady-state sweep (docs/steady_state.md): against the
// analytic two-spin value, against the exact time evolution run until it has stopped moving, and
// the bookkeeping (every quantum that leaves is counted by a reservoir).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "qtraj/error.hpp"
#include "qtraj/exact/steady_state.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

RunConfig make_config(std::vector<long long> spins, std::vector<std::string> initial,
                      std::vector<Reservoir> reservoirs = {}) {
  RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(InitialState::parse(initial[i], spins[i], "test"));
  c.model.reservoirs = reservoirs.empty() ? Model::default_chain(c.model.num_domains())
                                          : std::move(reservoirs);
  c.solver.kind = "steady";
  return c;
}

const Dataset& dataset(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return d;
  throw std::runtime_error("no dataset " + path);
}
const std::vector<double>& values(const Result& r, const std::string& path) {
  return std::get<std::vector<double>>(dataset(r, path).values);
}
double attribute(const Result& r, const std::string& name) {
  const auto& v = r.attributes.at(name);
  if (auto* d = std::get_if<double>(&v)) return *d;
  return static_cast<double>(std::get<std::int64_t>(v));
}

// The exact solver on the grid {0, t_end / 2, t_end}: its values at t_end must have stopped
// moving (|x(t_end) - x(t_end / 2)| <= 1e-10, checked here), and the steady solver must agree
// with them to 1e-8: <J_i^z>/N_i, excitations, <J^+J^->, every population and the quanta emitted
// per reservoir.
void expect_matches_long_exact_run(RunConfig config, double t_end) {
  const Result steady = solve_steady(config);
  ASSERT_EQ(steady.time.size(), 1u);
  EXPECT_TRUE(std::isinf(steady.time[0]));
  config.solver.kind = "exact";
  config.time.end = t_end;
  config.time.points = 3;
  config.solver.rtol = 1e-9;  // measured: the two agree to <= 1e-13 at this tolerance
  config.solver.atol = 1e-11;
  const Result exact = solve_exact(config);
  const int m = config.model.num_domains();
  for (int i = 0; i < m; ++i) {
    EXPECT_NEAR(exact.jz_over_n_mean(2, i), exact.jz_over_n_mean(1, i), 1e-10)
        << "the exact run has not converged at t_end = " << t_end << ", domain " << i + 1;
    EXPECT_NEAR(steady.jz_over_n_mean(0, i), exact.jz_over_n_mean(2, i), 1e-8) << "domain " << i + 1;
    EXPECT_NEAR(steady.excitations_mean(0, i), exact.excitations_mean(2, i), 1e-8);
    EXPECT_NEAR(values(steady, "/jplus_jminus/mean")[i],
                values(exact, "/jplus_jminus/mean")[2 * m + i], 1e-8);
    const std::string pop = "/populations/domain_" + std::to_string(i + 1);
    const auto& ps = values(steady, pop);
    const auto& pe = values(exact, pop);
    ASSERT_EQ(pe.size(), 3 * ps.size());
    for (std::size_t k = 0; k < ps.size(); ++k)
      EXPECT_NEAR(ps[k], pe[2 * ps.size() + k], 1e-8) << pop << " k = " << k;
  }
  const auto& es = values(steady, "/emitted_quanta");
  const auto& ee = values(exact, "/emitted_energy/mean");
  ASSERT_EQ(ee.size(), 3 * es.size());
  for (std::size_t r = 0; r < es.size(); ++r) {
    EXPECT_NEAR(ee[2 * es.size() + r], ee[es.size() + r], 1e-10) << "not converged, reservoir " << r;
    EXPECT_NEAR(es[r], ee[2 * es.size() + r], 1e-8) << "reservoir " << r + 1;
  }
  // Conservation: excitations at t = 0 = steady excitations + all emitted quanta.
  double initial = 0.0, final_ = 0.0, emitted = 0.0;
  for (int i = 0; i < m; ++i) {
    initial += exact.excitations_mean(0, i);
    final_ += steady.excitations_mean(0, i);
  }
  for (double e : es) emitted += e;
  EXPECT_NEAR(initial, final_ + emitted, 1e-10);
  EXPECT_NEAR(attribute(steady, "steady_trace"), 1.0, 1e-12);
  EXPECT_LT(std::fabs(attribute(steady, "steady_excitation_balance")), 1e-10);
  // The dark/bright classification had a clear gap (see docs/steady_state.md).
  EXPECT_LT(attribute(steady, "steady_max_dark_eigenvalue"), 1e-13);
  EXPECT_GT(attribute(steady, "steady_min_bright_eigenvalue"), 1e-6);
}

TEST(SteadyState, TwoSpinsEndAtMinusAQuarter) {
  // Analytic (docs/design.md section 7): half of |10> is the dark singlet, which keeps 1/2
  // excitation shared by the two spins: <J_1^z> = <J_2^z> = -1/4; the reservoir carries away 1/2.
  const Result r = solve_steady(make_config({1, 1}, {"excited", "ground"}));
  EXPECT_NEAR(r.jz_over_n_mean(0, 0), -0.25, 1e-14);
  EXPECT_NEAR(r.jz_over_n_mean(0, 1), -0.25, 1e-14);
  EXPECT_NEAR(values(r, "/emitted_quanta")[0], 0.5, 1e-14);
  EXPECT_EQ(attribute(r, "time_is_infinite"), 1.0);
  expect_matches_long_exact_run(make_config({1, 1}, {"excited", "ground"}), 60.0);
}

TEST(SteadyState, MatchesExactFig2a) {
  expect_matches_long_exact_run(make_config({40, 2}, {"excited", "ground"}), 4000.0);
}

TEST(SteadyState, MatchesExactFig2b) {
  expect_matches_long_exact_run(make_config({12, 6, 2}, {"excited", "ground", "ground"}), 2000.0);
}

TEST(SteadyState, MatchesExactFig2c) {
  expect_matches_long_exact_run(
      make_config({8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}), 2000.0);
}

TEST(SteadyState, MatchesExactStarWithUnequalRates) {
  // A star: hub domain 1 shares one reservoir with each of domains 2, 3, 4, at different rates.
  const std::vector<Reservoir> star = {{{0, 1}, 1.0, 0.0}, {{0, 2}, 0.4, 0.0}, {{0, 3}, 2.5, 0.0}};
  expect_matches_long_exact_run(
      make_config({5, 3, 2, 1}, {"excited", "ground", "dicke 1", "ground"}, star), 2000.0);
}

TEST(SteadyState, MatchesExactDickeInitialState) {
  expect_matches_long_exact_run(make_config({8, 3}, {"dicke 4", "ground"}), 2000.0);
}

TEST(SteadyState, MatchesExactProductInitialState) {
  // `product 3` of 6 spins is a mixture over j = 0..3: four DickeSpaces, weighted.
  const RunConfig c = make_config({6, 3}, {"product 3", "ground"});
  EXPECT_EQ(attribute(solve_steady(c), "steady_components"), 4.0);
  expect_matches_long_exact_run(c, 2000.0);
  expect_matches_long_exact_run(make_config({4, 3, 2}, {"product 2", "product 1", "ground"}),
                                2000.0);
}

TEST(SteadyState, MatchesExactCoherentInitialState) {
  // Coherences between sectors never reach the diagonal blocks (sector_system.hpp).
  expect_matches_long_exact_run(make_config({4, 2}, {"coherent 1.1 0.7", "ground"}), 2000.0);
}

TEST(SteadyState, SweepConservesTraceAndExcitations) {
  // The sweep itself on (12, 6, 2): trace 1, n(0) = n(inf) + emitted to 1e-10, and results that
  // do not depend on the number of threads diagonalising ahead of the sweep.
  const DickeSpace space({12, 6, 2});
  Model model;
  model.spins = {12, 6, 2};
  const auto channels = collapse_channels(model);  // the default chain
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
  psi[static_cast<std::size_t>(space.index({12, 0, 0}))] = 1.0;
  exact::SteadyOptions one, three;
  one.threads = 1;
  three.threads = 3;
  const auto a = exact::steady_state(space, channels, psi, one);
  const auto b = exact::steady_state(space, channels, psi, three);
  EXPECT_EQ(a.top_sector, 12);
  EXPECT_NEAR(a.initial_trace, 1.0, 1e-15);
  EXPECT_NEAR(a.steady_trace, 1.0, 1e-12);
  EXPECT_NEAR(a.populations.sum(), 1.0, 1e-12);
  EXPECT_NEAR(a.initial_excitation, 12.0, 1e-15);
  EXPECT_NEAR(a.initial_excitation, a.steady_excitation + a.emitted.sum(), 1e-10);
  EXPECT_GT(a.emitted.minCoeff(), 0.0);
  EXPECT_GT(a.populations.minCoeff(), -1e-12);
  EXPECT_EQ(a.populations, b.populations);
  EXPECT_EQ(a.emitted, b.emitted);
  // LAPACK's dsyevd (where built) and Eigen's eigensolver: the same steady state.
  exact::SteadyOptions with_eigen;
  with_eigen.eigensolver = exact::SteadyOptions::Eigensolver::eigen;
  const auto e = exact::steady_state(space, channels, psi, with_eigen);
  EXPECT_LT((a.populations - e.populations).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((a.emitted - e.emitted).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(SteadyState, GroundStateStaysAndNothingIsEmitted) {
  const Result r = solve_steady(make_config({3, 2}, {"ground", "ground"}));
  EXPECT_EQ(r.jz_over_n_mean(0, 0), -0.5);
  EXPECT_EQ(r.jz_over_n_mean(0, 1), -0.5);
  EXPECT_EQ(values(r, "/emitted_quanta")[0], 0.0);
}

TEST(SteadyState, RefusesThermalReservoirsAndUnsupportedSettings) {
  RunConfig c = make_config({2, 1}, {"excited", "ground"},
                            {{{0, 1}, 1.0, 0.0}, {{1, 0}, 1.0, 0.25}});
  try {
    solve_steady(c);
    FAIL() << "nbar > 0 was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "reservoir[2].nbar");
    EXPECT_NE(std::string(e.what()).find("0.25"), std::string::npos) << e.what();
  }
  c = make_config({2, 1}, {"excited", "ground"});
  c.solver.backend = "cuda";
  EXPECT_THROW(solve_steady(c), InputError);
  c.solver.backend = "cpu";
  c.output.plot = "x.png";
  try {
    solve_steady(c);
    FAIL() << "a plot of a steady state was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "output.plot");
  }
  // Dispatch and the run-file key.
  const RunConfig parsed = parse_run_config(
      "[system]\ndomains = [1, 1]\n[solver]\nkind = \"steady\"\n");
  EXPECT_EQ(parsed.solver.kind, "steady");
  EXPECT_NEAR(solve(parsed).jz_over_n_mean(0, 1), -0.25, 1e-14);
}

}  // namespace
}  // namespace qtraj
