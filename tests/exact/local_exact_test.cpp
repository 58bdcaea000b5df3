// Tests of the exact solver with local processes (src/exact/local_solver.cpp, docs/local.md
// "Exact"): against the full 2^N space (local_full_space.hpp), analytic limits (independent spins,
// two spins under dephasing), conservation laws, and the refusals.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>

#include <cmath>
#include <string>

#include "exact/exact_configs.hpp"
#include "exact/local_full_space.hpp"
#include "exact/local_integrator.hpp"
#include "exact/local_system.hpp"
#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

using test_exact::chain;
using test_exact::make_linear;

const Dataset& dataset(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return d;
  throw std::runtime_error("no dataset " + path);
}
const std::vector<double>& values(const Result& r, const std::string& path) {
  return std::get<std::vector<double>>(dataset(r, path).values);
}

LocalTable local(std::vector<int> domains, double emission, double pumping, double dephasing) {
  LocalTable t;
  t.domains = std::move(domains);
  t.emission = emission;
  t.pumping = pumping;
  t.dephasing = dephasing;
  return t;
}

RunConfig with_local(RunConfig c, std::vector<LocalTable> tables) {
  c.model.local = std::move(tables);
  c.solver.rtol = 1e-10;
  c.solver.atol = 1e-12;
  return c;
}

// Every output of the solver against the full-space reference, to 1e-7.
void expect_matches_full_space(const RunConfig& config) {
  const Model& model = config.model;
  const Result r = solve_exact(config);
  const int m = model.num_domains();
  const std::size_t n_t = r.time.size();
  const double dt = r.time[1] - r.time[0];
  const auto ref = test_local::FullSpace(model).solve(dt, static_cast<int>(n_t));
  const auto& jpjm = values(r, "/jplus_jminus/mean");
  const auto& lq = values(r, "/local_quanta/mean");
  const auto& emitted = values(r, "/emitted_energy/mean");
  const std::size_t n_res = ref[0].emitted.size();
  constexpr double tol = 1e-7;
  for (std::size_t k = 0; k < n_t; ++k) {
    for (int i = 0; i < m; ++i) {
      const double n_i = static_cast<double>(model.spins[i]);
      EXPECT_NEAR(r.jz_over_n_mean(k, i), ref[k].jz[i] / n_i, tol) << "t " << r.time[k] << " i " << i;
      EXPECT_NEAR(jpjm[k * m + i], ref[k].jpjm[i], tol) << "t " << r.time[k] << " i " << i;
      const auto& pk = values(r, "/populations/domain_" + std::to_string(i + 1));
      for (std::size_t c = 0; c < ref[k].pk[i].size(); ++c)
        EXPECT_NEAR(pk[k * ref[k].pk[i].size() + c], ref[k].pk[i][c], tol) << "P(k) " << c;
      const auto& pj = values(r, "/total_spin/domain_" + std::to_string(i + 1));
      ASSERT_EQ(pj.size(), n_t * ref[k].pj[i].size());
      for (std::size_t c = 0; c < ref[k].pj[i].size(); ++c)
        EXPECT_NEAR(pj[k * ref[k].pj[i].size() + c], ref[k].pj[i][c], tol) << "P(j) " << c;
      EXPECT_NEAR(lq[(k * m + i) * 2], ref[k].local_emitted[i], tol);
      EXPECT_NEAR(lq[(k * m + i) * 2 + 1], ref[k].local_absorbed[i], tol);
    }
    for (std::size_t res = 0; res < n_res; ++res)
      EXPECT_NEAR(emitted[k * n_res + res], ref[k].emitted[res], tol) << "reservoir " << res;
  }
}

TEST(LocalExact, OneDomainEveryProcessMatchesFullSpace) {
  RunConfig c = make_linear({4}, {"excited"}, {Reservoir{{0}, 1.0, 0.0}}, 3.0, 7);
  expect_matches_full_space(with_local(c, {local({0}, 0.3, 0.1, 0.2)}));
}

TEST(LocalExact, ChainWithDifferentProcessesPerDomainMatchesFullSpace) {
  RunConfig c = make_linear({2, 2}, {"excited", "ground"}, chain(2), 4.0, 9);
  expect_matches_full_space(with_local(c, {local({0}, 0.2, 0.0, 0.0), local({1}, 0.0, 0.0, 0.5)}));
}

TEST(LocalExact, ThermalChainWithPumpingAndProductStateMatchesFullSpace) {
  RunConfig c = make_linear({3, 1}, {"product 1", "excited"}, chain(2, 1.0, 0.3), 3.0, 7);
  expect_matches_full_space(with_local(c, {local({0, 1}, 0.1, 0.15, 0.0)}));
}

TEST(LocalExact, StarWithDickeAndCoherentStatesMatchesFullSpace) {
  const std::vector<Reservoir> star{Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{0, 2}, 0.7, 0.0}};
  RunConfig c = make_linear({1, 1, 2}, {"coherent 1.1 0", "ground", "dicke 1"}, star, 3.0, 7);
  expect_matches_full_space(with_local(c, {local({0, 1, 2}, 0.05, 0.0, 0.3)}));
}

// Independent spins (no reservoir): each spin relaxes to g_p / (g_e + g_p) at rate g_e + g_p, and
// the product start stays a product: P(k) binomial. Local quanta: g_e int <k>, g_p int <N - k>.
TEST(LocalExact, IndependentSpinsAreBinomial) {
  const double ge = 0.4, gp = 0.1, g = ge + gp, n = 6;
  RunConfig c = make_linear({6}, {"excited"}, {}, 5.0, 11);
  const Result r = solve_exact(with_local(c, {local({0}, ge, gp, 0.0)}));
  const auto& pk = values(r, "/populations/domain_1");
  const auto& lq = values(r, "/local_quanta/mean");
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    const double t = r.time[k], eq = gp / g;
    const double p = eq + (1 - eq) * std::exp(-g * t);
    EXPECT_NEAR(r.excitations_mean(k, 0), n * p, 1e-8);
    for (int e = 0; e <= 6; ++e)
      EXPECT_NEAR(pk[k * 7 + e], std::tgamma(7) / std::tgamma(e + 1) / std::tgamma(7 - e) *
                                     std::pow(p, e) * std::pow(1 - p, 6 - e),
                  1e-8);
    const double int_p = eq * t + (1 - eq) * (1 - std::exp(-g * t)) / g;  // int_0^t p
    EXPECT_NEAR(lq[2 * k], ge * n * int_p, 1e-8);
    EXPECT_NEAR(lq[2 * k + 1], gp * n * (t - int_p), 1e-8);
  }
}

// Two spins in the triplet |T0> under dephasing g: the coherence between |ud> and |du> decays at
// g (g/2 per spin), so P(j = 1) = (1 + e^{-g t}) / 2 and <J^z> stays 0.
TEST(LocalExact, DephasingMovesTheTripletIntoTheSinglet) {
  const double g = 0.8;
  RunConfig c = make_linear({2}, {"dicke 1"}, {}, 3.0, 7);
  const Result r = solve_exact(with_local(c, {local({0}, 0.0, 0.0, g)}));
  const auto& pj = values(r, "/total_spin/domain_1");
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    EXPECT_NEAR(pj[2 * k + 1], 0.5 * (1 + std::exp(-g * r.time[k])), 1e-9);
    EXPECT_NEAR(pj[2 * k], 0.5 * (1 - std::exp(-g * r.time[k])), 1e-9);
    EXPECT_NEAR(r.jz_over_n_mean(k, 0), 0.0, 1e-12);
  }
}

// With emission only (collective and local, nbar = 0): every quantum lost from the domains left
// through a reservoir or a local channel; trace 1 and positive blocks along the way.
TEST(LocalExact, QuantaAreAccountedForAndBlocksStayPositive) {
  RunConfig c = make_linear({4, 3, 2}, {"excited", "dicke 1", "product 1"}, chain(3), 6.0, 13);
  c = with_local(c, {local({0}, 0.05, 0.0, 0.1), local({2}, 0.2, 0.0, 0.0)});
  const Result r = solve_exact(c);
  const auto& lq = values(r, "/local_quanta/mean");
  const auto& emitted = values(r, "/emitted_energy/mean");
  double n0 = 0.0;
  for (int i = 0; i < 3; ++i) n0 += r.excitations_mean(0, i);
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    double n = 0.0, out = emitted[2 * k] + emitted[2 * k + 1];
    for (int i = 0; i < 3; ++i) {
      n += r.excitations_mean(k, i);
      out += lq[(k * 3 + i) * 2];
    }
    EXPECT_NEAR(n0 - n, out, 1e-8) << "t = " << r.time[k];
  }
  for (int i = 0; i < 3; ++i) {
    const auto& pj = values(r, "/total_spin/domain_" + std::to_string(i + 1));
    const std::size_t cols = pj.size() / r.time.size();
    for (std::size_t k = 0; k < r.time.size(); ++k) {
      double trace = 0.0;
      for (std::size_t col = 0; col < cols; ++col) trace += pj[k * cols + col];
      EXPECT_NEAR(trace, 1.0, 1e-10);
    }
  }
  // Positivity of every block's sector matrices at every output time.
  const exact::LocalSystem system(c.model, collapse_channels(c.model));
  int observed = 0;
  exact::integrate_dopri5(
      [&](const Eigen::VectorXd& y, Eigen::VectorXd& out) { system.apply(y, out); },
      system.initial_state(exact::domain_components(c.model)), r.time, 1e-10, 1e-12,
      0.1 / system.max_rate(), [&](std::size_t, const Eigen::VectorXd& y) {
        ++observed;
        EXPECT_GT(system.min_eigenvalue(y), -1e-10);
      });
  EXPECT_EQ(observed, static_cast<int>(r.time.size()));
}

// The generator as a dense matrix over every entry of every sector matrix (symmetric or not):
// trace preserving, and its spectrum real and <= 0 (docs/local.md: self-adjoint and negative
// semidefinite in the degeneracy-weighted product).
TEST(LocalExact, GeneratorPreservesTraceAndHasARealNonPositiveSpectrum) {
  RunConfig c = make_linear({4, 2, 2}, {"excited", "dicke 1", "ground"}, chain(3), 1.0, 2);
  c = with_local(c, {local({0, 1, 2}, 0.05, 0.0, 0.3)});
  const exact::LocalSystem system(c.model, collapse_channels(c.model));
  const Eigen::Index n = system.state_size();
  Eigen::MatrixXd a(n, n);
  Eigen::VectorXd y = Eigen::VectorXd::Zero(system.size()), out;
  double worst_trace = 0.0;
  for (Eigen::Index e = 0; e < n; ++e) {
    y.setZero();
    y[e] = 1.0;
    system.apply(y, out);
    a.col(e) = out.head(n);
    double trace = 0.0;
    for (int b = 0; b < system.num_blocks(); ++b) trace += system.block_trace(out, b);
    worst_trace = std::max(worst_trace, std::abs(trace));
  }
  EXPECT_LT(worst_trace, 1e-12);
  const Eigen::EigenSolver<Eigen::MatrixXd> es(a, false);
  double max_real = -1.0, max_imag = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    max_real = std::max(max_real, es.eigenvalues()[i].real());
    max_imag = std::max(max_imag, std::abs(es.eigenvalues()[i].imag()));
  }
  EXPECT_LT(max_real, 1e-10);
  EXPECT_LT(max_imag, 1e-8);
}

// Tolerances converge (the answer does not depend on the step sequence beyond the tolerance).
TEST(LocalExact, ImplicitAndExplicitAgreeWithDephasing) {
  RunConfig c = make_linear({4, 3, 2}, {"excited", "ground", "dicke 1"}, chain(3), 6.0, 3);
  c = with_local(c, {local({0, 1, 2}, 0.02, 0.0, 0.05)});
  const Result implicit = solve_exact(c);
  c.model.local.push_back(local({0}, 0.0, 1e-300, 0.0));  // pumping: the explicit integrator
  const Result explicit_ = solve_exact(c);
  EXPECT_NE(std::get<std::string>(implicit.attributes.at("exact_integrator")),
            std::get<std::string>(explicit_.attributes.at("exact_integrator")));
  for (std::size_t k = 0; k < implicit.jz_over_n_mean.data.size(); ++k)
    EXPECT_NEAR(implicit.jz_over_n_mean.data[k], explicit_.jz_over_n_mean.data[k], 1e-8);
}

// The preconditioner's two-thread split gives the same stage solve, bit for bit.
TEST(LocalExact, StageSolveDoesNotDependOnThreads) {
  RunConfig c = make_linear({4, 3, 2}, {"excited", "ground", "dicke 1"}, chain(3), 6.0, 3);
  c = with_local(c, {local({0, 1, 2}, 0.02, 0.0, 0.05)});
  exact::LocalSystem system(c.model, collapse_channels(c.model));
  const Eigen::VectorXd y0 = system.initial_state(exact::domain_components(c.model));
  Eigen::VectorXd rhs(system.size()), one, two;
  system.apply(y0, rhs);
  rhs = y0 + 0.3 * rhs;
  system.solve_stage(0.7, rhs, one, 1e-12, 1e-14);
  system.set_threads(2, 0);
  system.solve_stage(0.7, rhs, two, 1e-12, 1e-14);
  ASSERT_GT(one.head(system.state_size()).norm(), 0.1);
  EXPECT_EQ(one.head(system.state_size()), two.head(system.state_size()));
}

TEST(LocalExact, LocalStateDoublesCountsTheBlocks) {
  RunConfig c = make_linear({4, 3, 2}, {"excited", "dicke 1", "product 1"}, chain(3), 1.0, 2);
  c = with_local(c, {local({0}, 0.05, 0.0, 0.1), local({2}, 0.2, 0.0, 0.0)});
  const exact::LocalSystem system(c.model, collapse_channels(c.model));
  EXPECT_EQ(exact::local_state_doubles(c.model), static_cast<double>(system.size()));
}

TEST(LocalExact, ZeroRatesTakeTheCollectivePathBitForBit) {
  RunConfig c = make_linear({3, 2}, {"excited", "ground"}, chain(2), 2.0, 5);
  const Result plain = solve_exact(c);
  c.model.local = {local({0, 1}, 0.0, 0.0, 0.0)};
  const Result zero = solve_exact(c);
  EXPECT_EQ(plain.jz_over_n_mean.data, zero.jz_over_n_mean.data);
  EXPECT_EQ(plain.extra.size(), zero.extra.size());
}

TEST(LocalExact, RefusesWhatItCannotDo) {
  RunConfig c = with_local(make_linear({2}, {"excited"}, {}, 1.0, 3), {local({0}, 0.1, 0.0, 0.0)});
  c.solver.integrator = "esdirk";
  try {
    solve_exact(c);
    FAIL() << "esdirk accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("solver.integrator"), std::string::npos) << e.what();
  }
  c.solver.integrator = "auto";
  c.solver.backend = "cuda";
  try {
    solve_exact(c);
    FAIL() << "cuda accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("solver.backend"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qtraj

namespace qtraj {
namespace {

// The steady solver with local emission against the exact solver at a long time: every output.
void expect_steady_matches_long_exact(RunConfig c, double t_end) {
  c.time.end = t_end;
  c.time.points = 2;
  const Result exact = solve_exact(c);
  c.solver.kind = "steady";
  const Result steady = solve(c);
  ASSERT_EQ(steady.solver, "steady");
  const int m = c.model.num_domains();
  for (int i = 0; i < m; ++i) {
    EXPECT_NEAR(steady.excitations_mean(0, i), exact.excitations_mean(1, i), 1e-6) << i;
    const std::string pj = "/total_spin/domain_" + std::to_string(i + 1);
    const auto& ps = values(steady, pj);
    const auto& pe = values(exact, pj);
    for (std::size_t col = 0; col < ps.size(); ++col) EXPECT_NEAR(ps[col], pe[ps.size() + col], 1e-6);
    EXPECT_NEAR(values(steady, "/local_quanta/mean")[2 * i],
                values(exact, "/local_quanta/mean")[2 * (m + i)], 1e-6);
  }
  const auto& qs = values(steady, "/emitted_quanta");
  const auto& qe = values(exact, "/emitted_energy/mean");
  for (std::size_t r = 0; r < qs.size(); ++r) EXPECT_NEAR(qs[r], qe[qs.size() + r], 1e-6);
  EXPECT_NEAR(std::get<double>(steady.attributes.at("steady_excitation_balance")), 0.0, 1e-10);
  EXPECT_NEAR(std::get<double>(steady.attributes.at("steady_trace")), 1.0, 1e-12);
}

// A connected chain with local emission on the last domain only: every excitation leaves.
TEST(LocalSteady, ConnectedChainEmptiesTheTopBlocks) {
  RunConfig c = with_local(make_linear({3, 2}, {"excited", "dicke 1"}, chain(2), 1.0, 2),
                           {local({1}, 0.3, 0.0, 0.0)});
  expect_steady_matches_long_exact(c, 300.0);
  c.solver.kind = "steady";
  const Result r = solve(c);
  EXPECT_NEAR(r.excitations_mean(0, 0) + r.excitations_mean(0, 1), 0.0, 1e-9);
  const auto& q = values(r, "/emitted_quanta");
  EXPECT_NEAR(q[0] + values(r, "/local_quanta/mean")[2], 4.0, 1e-9);
}

// `product 1` on an undamped domain keeps its j < N/2 part's excitation; a domain cut off from
// every damped one keeps its dark states.
TEST(LocalSteady, ProductStatesAndCutOffDomainsKeepExcitations) {
  RunConfig c = with_local(make_linear({3, 2}, {"product 1", "excited"}, chain(2), 1.0, 2),
                           {local({1}, 0.3, 0.0, 0.0)});
  expect_steady_matches_long_exact(c, 300.0);
  c.solver.kind = "steady";
  EXPECT_GT(solve(c).excitations_mean(0, 0), 0.1);
  RunConfig cut = with_local(
      make_linear({2, 2, 2}, {"excited", "ground", "product 1"}, {Reservoir{{0, 1}, 1.0, 0.0}}, 1.0, 2),
      {local({0}, 0.2, 0.0, 0.0)});
  expect_steady_matches_long_exact(cut, 300.0);
  cut.solver.kind = "steady";
  EXPECT_NEAR(solve(cut).excitations_mean(0, 2), 1.0, 1e-12);  // untouched
}

}  // namespace
}  // namespace qtraj
