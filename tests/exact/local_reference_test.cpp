// The exact and steady solvers with local processes against data/reference/qutip_local.toml
// (data/README.md, "Local decoherence"; docs/local.md section 7): every full-space case (QuTiP
// mesolve on the 2^N space) parsed from its own `run_file` with the CLI's parser, every observable
// at every reference time to 1e-7; the QuTiP PIQS cases (one domain, N = 20 and 30), whose
// Liouvillian PIQS builds in single precision, to 1e-6; the t = inf tables with the steady solver
// on every case with a t = inf table (local emission and dephasing; pumping is refused).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "local_reference.hpp"
#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

using test_data::LocalReferenceCase;
using test_data::local_reference_case;
using test_data::local_reference_names;
namespace ref = test_local_reference;

// The tolerance against the full space (docs/local.md section 7).
constexpr double kFullSpaceTolerance = 1e-7;
// PIQS's coefficients are C floats (data/README.md, "PIQS"): its trace drifts by up to 1.4e-7
// in these cases and its values carry relative errors of float rounding (<J^+J^-> = 164.74873217
// at N = 30, t = 0.1 here, converged to 1e-8 in rtol; PIQS 164.74871887), so the bound is 1e-6
// times max(1, |value|).
constexpr double kPiqsTolerance = 1e-6;

Result solve_case(const LocalReferenceCase& c, const std::string& kind) {
  return solve(ref::reference_config(c, {"solver.kind=" + kind}));
}

// Every full-space case: jz_over_n, jplus_jminus, populations_I, spin_distribution_I,
// emitted_energy, local_quanta, at t = 0 .. 40.
TEST(LocalExactReference, EveryFullSpaceCase) {
  const std::vector<std::string> names = local_reference_names("cases");
  ASSERT_EQ(names.size(), 19u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const LocalReferenceCase c = local_reference_case("cases", name);
    const Result r = solve_case(c, "exact");
    ASSERT_EQ(r.solver, "exact");
    ref::Bound bound;
    bound.fixed = kFullSpaceTolerance;
    ref::record(c, ref::compare_with_reference(r, c, bound, false));
  }
}

// QuTiP PIQS, one domain of 20 or 30 spins with collective emission and one local process each.
TEST(LocalExactReference, PiqsCases) {
  const std::vector<std::string> names = local_reference_names("piqs");
  ASSERT_EQ(names.size(), 6u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const LocalReferenceCase c = local_reference_case("piqs", name);
    const Result r = solve_case(c, "exact");
    ref::Bound bound;
    bound.fixed = kPiqsTolerance;
    bound.relative = true;
    ref::record(c, ref::compare_with_reference(r, c, bound, false));
  }
}

// A bound that no solver meets: the comparison fails (so the tests above can fail).
TEST(LocalExactReference, AWrongReferenceFails) {
  LocalReferenceCase c = local_reference_case("cases", "emission_3_2");
  const Result r = solve_case(c, "exact");
  c.tables["local_quanta"][5][1] += 3 * kFullSpaceTolerance;
  ref::Bound bound;
  bound.fixed = kFullSpaceTolerance;
  ::testing::TestPartResultArray failures;
  std::vector<ref::Worst> worst;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    worst = ref::compare_with_reference(r, c, bound, false);
  }
  EXPECT_EQ(failures.size(), 1);
  for (const auto& w : worst)
    if (w.observable == "local_quanta") EXPECT_GT(w.ratio, 1.0);
}

}  // namespace

// The steady solver against the t = inf tables (QuTiP mesolve to t = 4000), to 1e-7: every case
// with a table (none has pumping or nbar > 0, which the steady solver refuses in one line).
namespace {

bool steady_supported(const RunConfig& config) {
  for (const LocalTable& t : config.model.local)
    if (t.pumping > 0.0) return false;
  for (const Reservoir& r : config.model.reservoirs)
    if (r.nbar > 0.0) return false;
  return true;
}

void expect_steady_matches(const Result& r, const LocalReferenceCase& c) {
  const int m = static_cast<int>(c.spins.size());
  ASSERT_EQ(r.time.size(), 1u);
  ref::Worst w{"steady"};
  const double tol = kFullSpaceTolerance;
  const auto row = [&](const std::string& key) { return c.steady_row(key); };
  for (int i = 0; i < m; ++i) {
    const std::string d = std::to_string(i + 1);
    w.add(r.jz_over_n_mean(0, i), row("jz_over_n")[i], tol, "jz_over_n " + d);
    w.add(ref::values(r, "/jplus_jminus/mean")[i], row("jplus_jminus")[i], tol, "jplus_jminus " + d);
    const auto& pk = ref::values(r, "/populations/domain_" + d);
    ASSERT_EQ(pk.size(), row("populations_" + d).size());
    for (std::size_t k = 0; k < pk.size(); ++k)
      w.add(pk[k], row("populations_" + d)[k], tol, "populations_" + d);
    const auto& pj = ref::values(r, "/total_spin/domain_" + d);
    std::vector<double> expected(pj.size(), 0.0);
    const std::vector<int>& two_j = c.two_j_of(i + 1);
    for (std::size_t e = 0; e < two_j.size(); ++e)
      expected.at(static_cast<std::size_t>((two_j[e] - c.spins[i] % 2) / 2)) =
          row("spin_distribution_" + d)[e];
    for (std::size_t col = 0; col < pj.size(); ++col)
      w.add(pj[col], expected[col], tol, "spin_distribution_" + d);
  }
  const auto& quanta = ref::values(r, "/emitted_quanta");
  ASSERT_EQ(quanta.size(), row("emitted_energy").size());
  for (std::size_t res = 0; res < quanta.size(); ++res)
    w.add(quanta[res], row("emitted_energy")[res], tol, "emitted_quanta");
  const auto& local = ref::values(r, "/local_quanta/mean");
  std::vector<double> expected(local.size(), 0.0);
  for (std::size_t ch = 0; ch < c.local_channels.size(); ++ch) {
    const std::string& name = c.local_channels[ch];
    ASSERT_EQ(name.rfind("emission ", 0), 0u) << name;  // pumping is refused
    expected.at((std::stoul(name.substr(9)) - 1) * 2) = row("local_quanta")[ch];
  }
  for (std::size_t col = 0; col < local.size(); ++col)
    w.add(local[col], expected[col], tol, "local_quanta");
  EXPECT_GT(w.checked, 0);
  EXPECT_LE(w.ratio, 1.0) << c.name << ": worst at " << w.where;
  ::testing::Test::RecordProperty(c.name + ".steady", fmt::format("{:.3g}", w.deviation));
}

TEST(LocalSteadyReference, EveryCaseWithATableMatches) {
  int supported = 0, refused = 0;
  for (const std::string& name : local_reference_names("cases")) {
    SCOPED_TRACE(name);
    const LocalReferenceCase c = local_reference_case("cases", name);
    if (!c.has_steady) continue;
    const RunConfig config = ref::reference_config(c, {"solver.kind=steady"});
    if (steady_supported(config)) {
      ++supported;
      expect_steady_matches(solve(config), c);
      continue;
    }
    ++refused;
    try {
      solve(config);
      ADD_FAILURE() << name << ": the steady solver ran a case with pumping";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("local[", 0), 0u) << what;
      EXPECT_NE(what.find("pumping"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  // emission_3_2, subset_4_2, product_dark_3_1, cutoff_2_2_2, single_4_emission and the seven with
  // dephasing (the coupled sector solve, tests/exact/local_steady_test.cpp).
  EXPECT_EQ(supported, 12);
  EXPECT_EQ(refused, 0);
}

}  // namespace
}  // namespace qtraj
