// The choice of third-moment closure (solver.closure, docs/meanfield.md section 3): every closure
// against the master equation at t = 0, what the closures share and where they differ, the
// run-file key, and the default closure's accuracy against the exact solver at a CI-sized N.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "meanfield/reference_moments.hpp"
#include "qtraj/error.hpp"
#include "qtraj/meanfield/cumulant_equations.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"

namespace {

using namespace qtraj_test_meanfield;
using qtraj::meanfield::Closure;
using qtraj::meanfield::CumulantEquations;

const Closure kAll[] = {Closure::symmetric, Closure::z_right, Closure::z_left};

TEST(MeanFieldClosure, EveryClosureIsExactAtTimeZero) {
  // J^z-eigenstate initial states (chains, a ring with a three-domain reservoir, nbar > 0):
  // dz/dt and every dC_ik/dt from the closed equations equal Tr(A L[rho]) to round-off.
  for (Closure closure : kAll)
    for (const auto& c : z_eigenstate_cases()) {
      const Model model = make_model(c.n, c.init, c.reservoirs);
      const CumulantEquations eq(model, closure);
      const Moments d = eq.derivative(eq.initial_moments());
      EXPECT_LT(max_rel_diff(d, exact_moments(model).derivative), 1e-12)
          << qtraj::meanfield::closure_name(closure) << ", N[0] = " << c.n[0] << ", " << c.init[0];
    }
}

TEST(MeanFieldClosure, ClosuresDifferOnlyInCrossCorrelations) {
  // docs/meanfield.md: at zero temperature the closures share dz_i/dt and dC_ii/dt for ANY state
  // (the shifts of the two third moments in dC_ii/dt add up to the same total), and differ in
  // dC_ik/dt, i != k, when a reservoir holds one of i, k but not the other.
  const Model model = make_model({7, 5, 3}, {"excited", "ground", "ground"});
  const CumulantEquations sym(model, Closure::symmetric), right(model, Closure::z_right);
  Eigen::VectorXd y(sym.size());
  for (int i = 0; i < y.size(); ++i) y[i] = 0.1 + 0.37 * std::sin(1.3 * i + 0.2);  // a generic state
  Eigen::VectorXd ds, dr;
  sym.rhs(y, ds);
  right.rhs(y, dr);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(ds[sym.z_index(i)], dr[right.z_index(i)], 1e-14);
    EXPECT_NEAR(ds[sym.diag_index(i)], dr[right.diag_index(i)], 1e-14);
  }
  // C_12 feels reservoir (2,3) through domain 2 only: z_right shifts it by -C_12/2 there.
  // Scaled: d(C_12/(N_1 N_2)) differs by -(1/2) Re C_12 / (N_1 N_2) = -y/2.
  const int c12 = sym.offdiag_index(0, 1);
  EXPECT_NEAR(dr[c12] - ds[c12], -0.5 * y[c12], 1e-14);
  // C_23 feels reservoir (1,2) through domain 2 only: z_right shifts it by +C_23/2.
  const int c23 = sym.offdiag_index(1, 2);
  EXPECT_NEAR(dr[c23] - ds[c23], 0.5 * y[c23], 1e-14);
  // C_13: +1/2 from (1,2), -1/2 from (2,3): no net change.
  const int c13 = sym.offdiag_index(0, 2);
  EXPECT_NEAR(dr[c13] - ds[c13], 0.0, 1e-14);
}

std::string run_file(const std::string& closure_line) {
  return "[system]\ndomains = [20, 4, 2]\ninitial = [\"excited\", \"ground\", \"ground\"]\n"
         "[time]\nstart = 1e-3\nend = 20.0\npoints = 81\nspacing = \"log\"\n"
         "[solver]\nkind = \"meanfield\"\n" +
         closure_line;
}

std::string closure_attribute(const qtraj::Result& r) {
  return std::get<std::string>(r.attributes.at("meanfield_closure"));
}

TEST(MeanFieldClosure, SelectableFromTheRunFile) {
  // The default (auto) falls back to z_right at (20,4,2), where fourth_order diverges
  // (auto_closure_test.cpp); the attribute names the closure that produced the numbers.
  const auto def = qtraj::solve(qtraj::parse_run_config(run_file("")));
  EXPECT_EQ(closure_attribute(def).rfind("z_right:", 0), 0u) << closure_attribute(def);
  std::vector<double> finals;
  for (const char* name : {"symmetric", "z_right", "z_left"}) {
    const auto c = qtraj::parse_run_config(run_file(std::string("closure = \"") + name + "\"\n"));
    EXPECT_EQ(c.solver.closure, name);
    const auto r = qtraj::solve(c);
    EXPECT_EQ(closure_attribute(r).rfind(std::string(name) + ":", 0), 0u) << closure_attribute(r);
    finals.push_back(r.jz_over_n_mean(r.time.size() - 1, 2));
  }
  // The choice reaches the equations: the last domain ends elsewhere under each closure.
  EXPECT_GT(std::abs(finals[0] - finals[1]), 0.01);
  EXPECT_GT(std::abs(finals[0] - finals[2]), 0.01);
  // And --set works like any other key.
  EXPECT_EQ(qtraj::parse_run_config(run_file(""), {"solver.closure=symmetric"}).solver.closure,
            "symmetric");
}

TEST(MeanFieldClosure, BadValueIsAnInputErrorNamingTheKey) {
  for (const char* bad : {"closure = \"normal2\"\n", "closure = 3\n", "closure = \"\"\n"}) {
    try {
      qtraj::parse_run_config(run_file(bad));
      ADD_FAILURE() << "accepted " << bad;
    } catch (const qtraj::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("solver.closure"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(qtraj::meanfield::parse_closure("middle"), qtraj::InputError);
}

// Final-time |<J_i^z>/N_i (mean field) - exact|, max over domains, and max over all times.
struct Error {
  double final = 0, max = 0;
};
Error error_against(const qtraj::Result& mf, const qtraj::Result& exact) {
  Error e;
  const std::size_t last = exact.time.size() - 1;
  for (std::size_t t = 0; t <= last; ++t)
    for (std::size_t i = 0; i < exact.jz_over_n_mean.cols; ++i) {
      const double d = std::abs(mf.jz_over_n_mean(t, i) - exact.jz_over_n_mean(t, i));
      e.max = std::max(e.max, d);
      if (t == last) e.final = std::max(e.final, d);
    }
  return e;
}

TEST(MeanFieldClosure, DefaultIsTheMostAccurateAgainstTheExactSolver) {
  // The default (auto) runs z_right at these sizes (fourth_order diverges there).
  // scripts/meanfield_closure_table.py measured (t = 20, final max over domains / max over time):
  //   (20,4,2): symmetric 0.378/0.378, z_right 0.335/0.335, z_left 0.404/0.404
  //   (12,6,2): symmetric 0.369/0.369, z_right 0.335/0.335, z_left 0.389/0.389 (docs/meanfield.md).
  // Required here: the default is no worse than either other closure, and its errors stay at
  // the measured values (+0.005 for integrator and platform round-off; the exact solver runs at
  // rtol 1e-8). The issue's sizes and targets: SteadyStateErrorAtTheIssuesSizes.
  struct Case {
    std::vector<long long> n;
    double final_bound, max_bound;
  };
  for (const Case& c : {Case{{20, 4, 2}, 0.340, 0.340}, Case{{12, 6, 2}, 0.340, 0.340}}) {
    qtraj::RunConfig config =
        qtraj::parse_run_config(run_file(""), {"system.domains=[" + std::to_string(c.n[0]) + "," +
                                                std::to_string(c.n[1]) + "," +
                                                std::to_string(c.n[2]) + "]"});
    config.solver.kind = "exact";
    const auto exact = qtraj::solve(config);
    config.solver.kind = "meanfield";
    std::vector<Error> errors;
    for (const char* name : {qtraj::meanfield::kDefaultClosure, "symmetric", "z_right", "z_left"}) {
      config.solver.closure = name;
      errors.push_back(error_against(qtraj::solve(config), exact));
      std::printf("N = (%lld,%lld,%lld) %-9s final %.3f, max over t %.3f\n", c.n[0], c.n[1],
                  c.n[2], name, errors.back().final, errors.back().max);
    }
    for (std::size_t k = 1; k < errors.size(); ++k) EXPECT_LE(errors[0].final, errors[k].final + 1e-12);
    EXPECT_LE(errors[0].final, c.final_bound);
    EXPECT_LE(errors[0].max, c.max_bound);
  }
}

TEST(MeanFieldClosure, SteadyStateErrorAtTheIssuesSizes) {
  // The closures' target sizes (docs/meanfield.md 3.3), final values only: the exact t = inf values
  // from the steady solver (solver.kind = "steady", ~1 s at (60,30,10)), mean field at t = 20
  // (settled to 4 digits). Targets: every domain's final <J_i^z>/N_i within 0.15 of exact at
  // (30,15,5) and within 0.10 at (60,30,10). fourth_order meets them (measured 0.007 and 0.009 by
  // scripts/meanfield_closure_table.py, docs/meanfield.md 3.3), and so must the default (auto,
  // which runs fourth_order there); the second-order closures do not (z_right 0.201 and 0.105,
  // symmetric 0.310 and 0.234): for those only the ranking is required, z_right no worse than
  // symmetric.
  struct Case {
    std::string n;
    double target;
  };
  for (const Case& c : {Case{"30,15,5", 0.15}, Case{"60,30,10", 0.10}}) {
    qtraj::RunConfig config = qtraj::parse_run_config(run_file(""), {"system.domains=[" + c.n + "]"});
    config.solver.kind = "steady";
    const auto exact = qtraj::solve(config);
    ASSERT_EQ(exact.time.size(), 1u);
    config.solver.kind = "meanfield";
    std::vector<double> err;
    for (const char* name : {"fourth_order", qtraj::meanfield::kDefaultClosure, "z_right", "symmetric"}) {
      config.solver.closure = name;
      const auto mf = qtraj::solve(config);
      double e = 0;
      for (std::size_t i = 0; i < 3; ++i)
        e = std::max(e, std::abs(mf.jz_over_n_mean(mf.time.size() - 1, i) - exact.jz_over_n_mean(0, i)));
      std::printf("N = (%s) %-12s final error %.3f\n", c.n.c_str(), name, e);
      err.push_back(e);
    }
    EXPECT_LE(err[0], c.target) << "fourth_order at " << c.n;
    EXPECT_LE(err[1], c.target) << "the default (auto) at " << c.n;
    EXPECT_LE(err[2], err[3] + 1e-12) << c.n;
  }
}

TEST(MeanFieldClosure, FourthOrderStopsWhereItDiverges) {
  // fourth_order is a moderate-N closure: at (20,4,2) its truncated hierarchy takes
  // <J_1^z>/N_1 below -1/2 (docs/meanfield.md 3.3), and at the paper's Fig. 3b sizes
  // (1e8, 1e5, 1e2) the moments (~N^4) cannot carry the cumulants in double precision. The
  // run must stop with an Error naming the closure instead of returning unphysical curves.
  for (const std::string n : {"20,4,2", "100000000,100000,100"}) {
    qtraj::RunConfig config = qtraj::parse_run_config(
        run_file("closure = \"fourth_order\"\n"), {"system.domains=[" + n + "]"});
    EXPECT_EQ(config.solver.closure, "fourth_order");
    try {
      qtraj::solve(config);
      ADD_FAILURE() << "fourth_order returned a result at " << n;
    } catch (const qtraj::InputError& e) {
      ADD_FAILURE() << "not an input error: " << e.what();
    } catch (const qtraj::Error& e) {
      EXPECT_NE(std::string(e.what()).find("fourth_order closure diverged"), std::string::npos) << e.what();
    }
  }
  // Where it converges, the run file selects it and the attribute names it.
  const auto r = qtraj::solve(qtraj::parse_run_config(run_file("closure = \"fourth_order\"\n"),
                                                      {"system.domains=[30,15,5]"}));
  EXPECT_EQ(closure_attribute(r).rfind("fourth_order:", 0), 0u) << closure_attribute(r);
}

}  // namespace
