// The exact solver's Laplace-inversion integrator (include/qtraj/exact/laplace_integrator.hpp):
// an analytic two-spin decay, agreement with tight ESDIRK runs on the validation systems, the
// independence of the thread count, the trace guard and the sweep budget, and the choice of
// solver.integrator.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <string>

#include "exact/exact_configs.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/dense_device.hpp"
#include "qtraj/exact/esdirk.hpp"
#include "qtraj/exact/laplace_integrator.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/solvers.hpp"
#include "tsan_test.hpp"

namespace qtraj {
namespace {

using test_exact::chain;
using test_exact::make_config;
using test_exact::make_linear;

const Dataset& dataset(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return d;
  throw std::runtime_error("no dataset " + path);
}

std::string integrator_of(const Result& r) {
  return std::get<std::string>(r.attributes.at("exact_integrator"));
}

// Largest difference between two results, relative to each table's largest value (at least 1):
// <J_i^z>/N_i, the populations of every domain, <J_i^+ J_i^-> and the emitted quanta.
double max_difference(const Result& a, const Result& b, int domains) {
  double e = 0.0;
  for (std::size_t k = 0; k < a.time.size(); ++k)
    for (int i = 0; i < domains; ++i)
      e = std::max(e, std::abs(a.jz_over_n_mean(k, i) - b.jz_over_n_mean(k, i)));
  std::vector<std::string> tables = {"/emitted_energy/mean", "/jplus_jminus/mean"};
  for (int i = 0; i < domains; ++i) tables.push_back("/populations/domain_" + std::to_string(i + 1));
  for (const auto& path : tables) {
    const auto& x = std::get<std::vector<double>>(dataset(a, path).values);
    const auto& y = std::get<std::vector<double>>(dataset(b, path).values);
    double diff = 0.0, scale = 1.0;
    for (std::size_t q = 0; q < x.size(); ++q) {
      diff = std::max(diff, std::abs(x[q] - y[q]));
      scale = std::max(scale, std::abs(y[q]));
    }
    e = std::max(e, diff / scale);
  }
  return e;
}

TEST(LaplaceIntegrator, TwoSpinsFollowTheBrightStateDecay) {
  // Two single spins sharing one reservoir, |e, g> = (|B> + |D>)/sqrt 2 with L = s_1 + s_2:
  // K |B> = |B>, K |D> = 0, so the no-jump amplitude on |e, g> is (e^{-t} + 1)/2 and a jump
  // leaves |g, g>: <s_1^z> = (1 + e^{-t})^2 / 4 - 1/2, <s_2^z> = (1 - e^{-t})^2 / 4 - 1/2.
  RunConfig c = make_config({1, 1}, {"excited", "ground"}, chain(2), {50.0});
  c.time.spacing = TimeGrid::Spacing::log;
  c.time.start = 1e-3;
  c.time.points = 41;
  c.solver.rtol = 1e-8;  // the default
  c.solver.atol = 1e-10;
  c.solver.integrator = "laplace";
  const Result r = solve_exact(c);
  EXPECT_NE(integrator_of(r).find("Laplace"), std::string::npos);
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    const double e = std::exp(-r.time[k]);
    EXPECT_NEAR(r.jz_over_n_mean(k, 0), (1 + e) * (1 + e) / 4 - 0.5, 1e-10) << r.time[k];
    EXPECT_NEAR(r.jz_over_n_mean(k, 1), (1 - e) * (1 - e) / 4 - 0.5, 1e-10) << r.time[k];
  }
}

// Default-tolerance runs (rtol 1e-8, atol 1e-10) against a tight ESDIRK run (rtol 1e-11,
// atol 1e-13): Laplace keeps the requested tolerance and is at least as accurate as ESDIRK at
// the same tolerance (what the exact solver gave before Laplace became the default).
void expect_matches_esdirk(RunConfig c) {
  const int m = static_cast<int>(c.model.spins.size());
  c.solver.integrator = "esdirk";
  const Result reference = solve_exact(c);
  c.solver.rtol = 1e-8;
  c.solver.atol = 1e-10;
  const Result esdirk = solve_exact(c);
  c.solver.integrator = "laplace";
  const Result laplace = solve_exact(c);
  EXPECT_NE(integrator_of(laplace).find("Laplace"), std::string::npos);
  EXPECT_EQ(std::get<std::int64_t>(laplace.attributes.at("exact_rejected_steps")), 0);
  const double e_laplace = max_difference(laplace, reference, m);
  const double e_esdirk = max_difference(esdirk, reference, m);
  std::printf("error against the tight run: laplace %.3g, esdirk %.3g\n", e_laplace, e_esdirk);
  EXPECT_LT(e_laplace, c.solver.rtol);
  EXPECT_LE(e_laplace, std::max(e_esdirk, 1e-10));
}

TEST(LaplaceIntegrator, MatchesEsdirkOnTheChains) {
  expect_matches_esdirk(make_linear({12, 6, 2}, {"excited", "ground", "ground"}, chain(3), 100, 51));
  expect_matches_esdirk(
      make_linear({8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}, chain(4), 60, 31));
  RunConfig log = make_linear({40, 2}, {"excited", "ground"}, chain(2), 1000, 25);
  log.time.spacing = TimeGrid::Spacing::log;
  log.time.start = 1e-3;
  expect_matches_esdirk(log);
}

TEST(LaplaceIntegrator, MatchesEsdirkOnAStarAndACoherentState) {
  // Domain 0 shares one reservoir with each of 1 and 2 (unequal rates); a coherent state (its
  // sector-diagonal part) in a chain.
  std::vector<Reservoir> star = {Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{0, 2}, 0.5, 0.0}};
  expect_matches_esdirk(make_linear({6, 3, 2}, {"excited", "ground", "dicke 1"}, star, 40, 21));
  expect_matches_esdirk(
      make_linear({5, 3}, {"coherent 1.2 0.4", "coherent 2.0 1.1"}, chain(2), 30, 16));
}

QTRAJ_TSAN_TEST(LaplaceIntegrator, ResultDoesNotDependOnTheThreadCount) {
  RunConfig c = make_linear({12, 6, 2}, {"excited", "ground", "ground"}, chain(3), 20, 11);
  c.solver.integrator = "laplace";
  c.solver.threads = 1;
  const Result one = solve_exact(c);
  c.solver.threads = 3;
  const Result three = solve_exact(c);
  EXPECT_EQ(max_difference(one, three, 3), 0.0);  // nodes summed in a fixed order
}

// The flat SectorSystem problem of (12, 6, 2), first domain excited.
struct Problem {
  DickeSpace space{{12, 6, 2}};
  exact::SectorSystem system{space, collapse_channels(make_linear({12, 6, 2}, {"excited", "ground", "ground"}, chain(3), 1, 2).model)};
  Eigen::VectorXd y0() const {
    std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
    for (std::int64_t s = 0; s < space.dim(); ++s)
      if (space.k(s, 0) == 12 && space.k(s, 1) == 0 && space.k(s, 2) == 0) psi[s] = 1.0;
    return system.initial_state(psi);
  }
};

// Final state of both integrators on the grid 0, 0.5, ..., 10.
double final_difference(const Problem& p, const exact::LaplaceOptions& options,
                        exact::IntegrationStats* stats) {
  std::vector<double> times;
  for (int k = 0; k <= 20; ++k) times.push_back(0.5 * k);
  Eigen::VectorXd a, b;
  *stats = exact::integrate_laplace(p.system, p.y0(), times, 1e-8, 1e-10, options,
                                    [&](std::size_t k, const Eigen::VectorXd& y) {
                                      if (k + 1 == times.size()) a = y;
                                    });
  exact::integrate(p.system, p.y0(), times, 1e-11, 1e-13,
                   [&](std::size_t k, const Eigen::VectorXd& y) {
                     if (k + 1 == times.size()) b = y;
                   });
  return (p.system.populations(a) - p.system.populations(b)).cwiseAbs().maxCoeff();
}

TEST(LaplaceIntegrator, ACoarseRuleTripsTheTraceGuard) {
  // Four nodes cannot reach rtol = 1e-8: the trace moves, each such step is redone by ESDIRK,
  // and the result is still ESDIRK-accurate.
  const Problem p;
  exact::LaplaceOptions options;
  options.rule = exact::LaplaceRule{4, 1.3, 0.6};
  exact::IntegrationStats stats;
  const double e = final_difference(p, options, &stats);
  EXPECT_GT(stats.rejected, 0);
  EXPECT_LT(e, 1e-8);
  // The default rule passes the guard on every step.
  exact::IntegrationStats good;
  EXPECT_LT(final_difference(p, exact::LaplaceOptions{}, &good), 1e-10);
  EXPECT_EQ(good.rejected, 0);
  EXPECT_EQ(good.steps, 20);
  EXPECT_EQ(good.solves, 20 * exact::laplace_rule(1e-8).nodes);
}

TEST(LaplaceIntegrator, ASpentBudgetHandsTheRestToEsdirk) {
  const Problem p;
  exact::LaplaceOptions options;
  options.sweep_budget = 100.0;  // ~3 Laplace steps of 14 complex nodes
  exact::IntegrationStats stats;
  const double e = final_difference(p, options, &stats);
  EXPECT_GT(stats.esdirk_from, 0.0);
  EXPECT_LT(stats.esdirk_from, 5.0);
  EXPECT_LT(e, 1e-8);
  // Through the solver: auto on a dense early log grid says so in exact_integrator.
  RunConfig c = make_linear({12, 6, 2}, {"excited", "ground", "ground"}, chain(3), 100, 400);
  c.time.spacing = TimeGrid::Spacing::log;
  c.time.start = 1e-4;
  c.solver.rtol = 1e-8;
  c.solver.atol = 1e-10;
  const Result r = solve_exact(c);
  EXPECT_NE(integrator_of(r).find("then ESDIRK"), std::string::npos) << integrator_of(r);
}

TEST(LaplaceIntegrator, SolverIntegratorChoice) {
  RunConfig cold = make_linear({3, 2}, {"excited", "ground"}, chain(2), 10, 6);
  EXPECT_NE(integrator_of(solve_exact(cold)).find("Laplace"), std::string::npos);  // auto
  RunConfig warm = make_linear({3, 2}, {"excited", "ground"}, chain(2, 1.0, 0.3), 10, 6);
  EXPECT_EQ(integrator_of(solve_exact(warm)).find("Laplace"), std::string::npos);  // auto: ESDIRK
  warm.solver.integrator = "laplace";
  try {
    solve_exact(warm);
    FAIL() << "laplace with nbar > 0 must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("solver.integrator"), std::string::npos) << e.what();
  }
  // An unknown integrator is the parser's to refuse (solve_exact relies on its checks).
  try {
    parse_run_config("[system]\ndomains = [3, 2]\n", {"solver.integrator=\"rk4\""});
    FAIL() << "integrator rk4 accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "solver.integrator");
  }
}

}  // namespace
}  // namespace qtraj

namespace qtraj {
namespace {

// A device that keeps everything and fails every product: a resolvent that throws on one worker
// must reach the caller as that exception (no std::terminate, no worker left waiting its turn).
class FailingDevice final : public exact::DenseDevice {
 public:
  std::string description() const override { return "failing test device"; }
  void keep(const double*, int, int) override {}
  bool is_kept(const double*, int, int) const override { return true; }
  void congruence_lower(const double*, bool, int, int, const double*, double, double*) override {
    fail();
  }
  void multiply_symmetric(const double*, int, int, const double*, double*) override { fail(); }
  void multiply(const double*, bool, int, int, const double*, int, double*) override { fail(); }
  void keep_sparse(const void*, int, int, const int*, const int*, const double*) override {}
  void basis_transfer(const double*, int, const std::vector<BasisSource>&, double*) override {
    fail();
  }

 private:
  static void fail() { throw DeviceError("test device: lost"); }
};

QTRAJ_TSAN_TEST(LaplaceIntegrator, AWorkerFailureReachesTheCaller) {
  const DickeSpace space({6, 3, 1});
  const auto channels = collapse_channels(
      make_linear({6, 3, 1}, {"excited", "ground", "ground"}, chain(3), 1, 2).model);
  const exact::SectorSystem system(space, channels, exact::DenseKernels::cublas,
                                   std::make_shared<FailingDevice>());
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
  for (std::int64_t s = 0; s < space.dim(); ++s)
    if (space.k(s, 0) == 6 && space.k(s, 1) == 0 && space.k(s, 2) == 0) psi[s] = 1.0;
  for (int threads : {1, 4}) {
    exact::LaplaceOptions options;
    options.threads = threads;
    EXPECT_THROW(exact::integrate_laplace(system, system.initial_state(psi), {0.0, 1.0, 2.0}, 1e-8,
                                          1e-10, options, [](std::size_t, const Eigen::VectorXd&) {}),
                 DeviceError)
        << threads << " threads";
  }
}

}  // namespace
}  // namespace qtraj
