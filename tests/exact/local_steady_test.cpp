// Tests of the steady solver with local dephasing (src/exact/local_steady.cpp, docs/local.md
// "Steady state"): against QuTiP's t = inf tables (data/reference/qutip_local.toml), against the
// exact solver run to a long time, the balance of the quanta, stationarity of rho(inf), and the
// refusal of pumping.
#include "exact/local_steady.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "exact/components.hpp"
#include "exact/exact_configs.hpp"
#include "exact/local_system.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "reference_data.hpp"

namespace qtraj {
namespace {

using test_exact::chain;
using test_exact::make_linear;

const std::vector<double>& values(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return std::get<std::vector<double>>(d.values);
  throw std::runtime_error("no dataset " + path);
}

LocalTable local(std::vector<int> domains, double emission, double dephasing) {
  LocalTable t;
  t.domains = std::move(domains);
  t.emission = emission;
  t.dephasing = dephasing;
  return t;
}

RunConfig with_local(RunConfig c, std::vector<LocalTable> tables) {
  c.model.local = std::move(tables);
  c.solver.rtol = 1e-10;
  c.solver.atol = 1e-12;
  return c;
}

// Every steady output of `case_name` against QuTiP's t = inf table, to 1e-7.
void expect_matches_qutip_steady(const std::string& case_name) {
  SCOPED_TRACE(case_name);
  const toml::table file = test_data::load("reference/qutip_local.toml");
  const toml::node_view<const toml::node> root{file};
  const auto node = root["cases"][case_name];
  const auto run_file = node["run_file"].value<std::string>();
  ASSERT_TRUE(run_file.has_value());
  RunConfig c = parse_run_config(*run_file, {"solver.kind=\"steady\""});
  const Result r = solve(c);
  ASSERT_EQ(r.solver, "steady");
  const auto steady = node["steady"];
  const int m = c.model.num_domains();
  constexpr double tol = 1e-7;
  const auto jz = test_data::doubles(steady["jz_over_n"], "jz_over_n");
  const auto jpjm = test_data::doubles(steady["jplus_jminus"], "jplus_jminus");
  const auto& jpjm_r = values(r, "/jplus_jminus/mean");
  for (int i = 0; i < m; ++i) {
    EXPECT_NEAR(r.jz_over_n_mean(0, i), jz[i], tol) << "domain " << i + 1;
    EXPECT_NEAR(jpjm_r[i], jpjm[i], tol) << "domain " << i + 1;
    const std::string suffix = std::to_string(i + 1);
    const auto pk = test_data::doubles(steady["populations_" + suffix], "populations");
    const auto& pk_r = values(r, "/populations/domain_" + suffix);
    ASSERT_EQ(pk.size(), pk_r.size());
    for (std::size_t k = 0; k < pk.size(); ++k) EXPECT_NEAR(pk_r[k], pk[k], tol) << "P(k) " << k;
    const auto two_j = test_data::doubles(node["two_j_" + suffix], "two_j");
    const auto pj = test_data::doubles(steady["spin_distribution_" + suffix], "spin_distribution");
    const auto& pj_r = values(r, "/total_spin/domain_" + suffix);
    const long long n_i = c.model.spins[i];
    for (std::size_t k = 0; k < two_j.size(); ++k) {
      const auto col = static_cast<std::size_t>((static_cast<long long>(two_j[k]) - n_i % 2) / 2);
      ASSERT_LT(col, pj_r.size());
      EXPECT_NEAR(pj_r[col], pj[k], tol) << "P(j), 2j = " << two_j[k];
    }
  }
  const auto emitted = test_data::doubles(steady["emitted_energy"], "emitted_energy");
  const auto& emitted_r = values(r, "/emitted_quanta");
  ASSERT_EQ(emitted.size(), emitted_r.size());
  for (std::size_t k = 0; k < emitted.size(); ++k) EXPECT_NEAR(emitted_r[k], emitted[k], tol);
  // Local quanta: the listed channels against the table, every other one zero.
  std::vector<double> expected(static_cast<std::size_t>(2 * m), 0.0);
  const toml::array* names = node["local_channels"].as_array();
  ASSERT_NE(names, nullptr);
  const auto quanta = test_data::doubles(steady["local_quanta"], "local_quanta");
  ASSERT_EQ(quanta.size(), names->size());
  for (std::size_t k = 0; k < names->size(); ++k) {
    const std::string name = *(*names)[k].value<std::string>();
    const int domain = std::stoi(name.substr(name.find(' ') + 1)) - 1;
    expected[static_cast<std::size_t>(2 * domain + (name.rfind("pumping", 0) == 0 ? 1 : 0))] =
        quanta[k];
  }
  const auto& lq = values(r, "/local_quanta/mean");
  ASSERT_EQ(lq.size(), expected.size());
  for (std::size_t k = 0; k < lq.size(); ++k) EXPECT_NEAR(lq[k], expected[k], tol) << "local " << k;
  EXPECT_NEAR(std::get<double>(r.attributes.at("steady_excitation_balance")), 0.0, 1e-10);
}

// The seven QuTiP cases with dephasing and without pumping or nbar.
TEST(LocalSteadyDephasing, MatchesQutipSteadyTables) {
  for (const char* name : {"dephasing_3_2", "chain_2_2_2", "star_3_1_1", "dicke_4_2", "product_4_2",
                           "additive_3_2", "single_4_dephasing"})
    expect_matches_qutip_steady(name);
}

// The steady solver against the exact solver at a long time: every output, the quanta balance
// n(0) = quanta through the reservoirs + local emission + n(inf), the trace.
void expect_steady_matches_long_exact(RunConfig c, double t_end) {
  c.time.end = t_end;
  c.time.points = 2;
  const Result exact = solve_exact(c);
  c.solver.kind = "steady";
  const Result steady = solve(c);
  ASSERT_EQ(steady.solver, "steady");
  const int m = c.model.num_domains();
  double n0 = 0.0, n_inf = 0.0, through = 0.0;
  for (int i = 0; i < m; ++i) {
    EXPECT_NEAR(steady.excitations_mean(0, i), exact.excitations_mean(1, i), 1e-6) << i;
    n0 += exact.excitations_mean(0, i);
    n_inf += steady.excitations_mean(0, i);
    const std::string pj = "/total_spin/domain_" + std::to_string(i + 1);
    const auto& ps = values(steady, pj);
    const auto& pe = values(exact, pj);
    for (std::size_t col = 0; col < ps.size(); ++col)
      EXPECT_NEAR(ps[col], pe[ps.size() + col], 1e-6);
    const std::string pk = "/populations/domain_" + std::to_string(i + 1);
    const auto& ks = values(steady, pk);
    const auto& ke = values(exact, pk);
    for (std::size_t col = 0; col < ks.size(); ++col)
      EXPECT_NEAR(ks[col], ke[ks.size() + col], 1e-6);
    const double emitted = values(steady, "/local_quanta/mean")[2 * i];
    EXPECT_NEAR(emitted, values(exact, "/local_quanta/mean")[2 * (m + i)], 1e-6);
    through += emitted;
  }
  const auto& qs = values(steady, "/emitted_quanta");
  const auto& qe = values(exact, "/emitted_energy/mean");
  for (std::size_t r = 0; r < qs.size(); ++r) {
    EXPECT_NEAR(qs[r], qe[qs.size() + r], 1e-6);
    through += qs[r];
  }
  EXPECT_NEAR(n0, through + n_inf, 1e-9);
  EXPECT_NEAR(std::get<double>(steady.attributes.at("steady_excitation_balance")), 0.0, 1e-10);
  EXPECT_NEAR(std::get<double>(steady.attributes.at("steady_trace")), 1.0, 1e-12);
}

double total_excitations(const Result& r) {
  double n = 0.0;
  for (std::size_t i = 0; i < r.jz_over_n_mean.cols; ++i) n += r.excitations_mean(0, i);
  return n;
}

// A connected chain with dephasing on the middle domain only (no local emission): dephasing
// moves the dark states' weight between blocks until the reservoirs take it, so every excitation
// leaves through them.
TEST(LocalSteadyDephasing, ConnectedChainEmptiesThroughTheReservoirs) {
  RunConfig c =
      with_local(make_linear({3, 2, 2}, {"excited", "ground", "dicke 1"}, chain(3), 1.0, 2),
                 {local({1}, 0.0, 0.4)});
  expect_steady_matches_long_exact(c, 400.0);
  c.solver.kind = "steady";
  const Result r = solve(c);
  EXPECT_NEAR(total_excitations(r), 0.0, 1e-9);
  const auto& q = values(r, "/emitted_quanta");
  EXPECT_NEAR(q[0] + q[1], 4.0, 1e-9);
  // Without the dephasing the same chain keeps dark-state excitations (the paper's trapping).
  c.model.local.clear();
  EXPECT_GT(total_excitations(solve(c)), 0.1);
}

// Excitations survive in the j < N/2 part of `product 1` on an undamped domain (its bottom
// |j, -j> is dark for the reservoir), and in a domain cut off from the damped ones, also when that
// domain dephases (dephasing keeps P(k) and spreads each m over the blocks j >= |m| as d_j).
TEST(LocalSteadyDephasing, ProductStatesAndCutOffDomainsKeepExcitations) {
  RunConfig c = with_local(make_linear({3, 2}, {"product 1", "excited"}, chain(2), 1.0, 2),
                           {local({1}, 0.1, 0.3)});
  expect_steady_matches_long_exact(c, 400.0);
  c.solver.kind = "steady";
  EXPECT_GT(solve(c).excitations_mean(0, 0), 0.1);
  RunConfig cut = with_local(make_linear({2, 2, 3}, {"excited", "ground", "dicke 1"},
                                         {Reservoir{{0, 1}, 1.0, 0.0}}, 1.0, 2),
                             {local({0}, 0.05, 0.2), local({2}, 0.0, 0.5)});
  expect_steady_matches_long_exact(cut, 400.0);
  cut.solver.kind = "steady";
  const Result r = solve(cut);
  EXPECT_NEAR(r.excitations_mean(0, 2), 1.0, 1e-12);
  // P(j) of the dephased cut-off domain, which starts in its top block: at m = -1/2, d_j / C(3, 1)
  // = 2/3 at j = 1/2 and 1/3 at j = 3/2; P(k = 1) stays 1.
  const auto& pj = values(r, "/total_spin/domain_3");
  EXPECT_NEAR(pj[0], 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(pj[1], 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(values(r, "/populations/domain_3")[1], 1.0, 1e-12);
}

// rho(inf) is stationary (L rho(inf) = 0 to rounding), the dark space's quadratic form is
// symmetric (L_n self-adjoint in the degeneracy-weighted product), and a kernel is found.
TEST(LocalSteadyDephasing, SteadyStateIsStationary) {
  RunConfig c = with_local(make_linear({4, 2, 3}, {"excited", "dicke 1", "product 2"},
                                       {Reservoir{{0, 1}, 1.0, 0.0}}, 1.0, 2),
                           {local({0}, 0.1, 0.3), local({2}, 0.0, 0.2)});
  const auto channels = collapse_channels(c.model);
  const exact::LocalSystem system(c.model, channels);
  const Eigen::VectorXd y0 = system.initial_state(exact::domain_components(c.model));
  exact::LocalSteadyStats stats;
  const Eigen::VectorXd y = exact::local_steady_dephasing(system, c.model, y0, 1e-10, stats);
  Eigen::VectorXd ly;
  system.apply(y, ly);
  EXPECT_LT(ly.head(system.state_size()).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_GT(stats.kernel_dimension, 0);
  EXPECT_GT(stats.cg_iterations, 0);
  EXPECT_LT(stats.max_q_asymmetry, 1e-12);
  EXPECT_GT(system.min_eigenvalue(y), -1e-12);
  double trace = 0.0;
  for (int b = 0; b < system.num_blocks(); ++b) trace += system.block_trace(y, b);
  EXPECT_NEAR(trace, 1.0, 1e-12);
}

// A sector's dark space beyond the limit (here 3 dimensions; every state of the cut-off dephased
// domain is dark for K', so its sectors exceed it) is refused in one line naming `local`.
TEST(LocalSteadyDephasing, RefusesATooLargeDarkSpaceInOneLine) {
  RunConfig c = with_local(make_linear({2, 2, 5}, {"excited", "ground", "dicke 2"},
                                       {Reservoir{{0, 1}, 1.0, 0.0}}, 1.0, 2),
                           {local({2}, 0.0, 0.3)});
  const exact::LocalSystem system(c.model, collapse_channels(c.model));
  const Eigen::VectorXd y0 = system.initial_state(exact::domain_components(c.model));
  exact::LocalSteadyStats stats;
  EXPECT_NO_THROW(exact::local_steady_dephasing(system, c.model, y0, 1e-10, stats));
  EXPECT_GT(stats.largest_dark_space, 3);
  try {
    exact::local_steady_dephasing(system, c.model, y0, 1e-10, stats, 3);
    FAIL() << "a dark space above the limit accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("local", 0), 0u) << what;
    EXPECT_NE(what.find("limit 3"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

TEST(LocalSteadyDephasing, RefusesPumpingInOneLine) {
  RunConfig c = with_local(make_linear({2}, {"excited"}, {}, 1.0, 2), {local({0}, 0.1, 0.2)});
  c.model.local[0].pumping = 0.05;
  c.solver.kind = "steady";
  try {
    solve(c);
    FAIL() << "pumping accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("local[1].pumping", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace qtraj
