// Trajectories with local processes against data/reference/qutip_local.toml (QuTiP mesolve on
// the full 2^N space; data/README.md, "Local decoherence"): a selection of the cases covering
// each process, a chain, the star, a thermal reservoir with local pumping, and the initial states
// `product K`, `dicke K`, `coherent`, each parsed from its own `run_file`, fixed seeds, within
// 4 standard errors at every reference time for <J_i^z>/N_i, <J_i^+J_i^->, P(j_i) and the local
// quanta (trajectories do not write P(k_i): README, /populations). Krylov on most, spectral and
// adaptive on one case each.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "local_reference.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

using test_data::LocalReferenceCase;
using test_data::local_reference_case;
namespace ref = test_local_reference;

Result run_case(const LocalReferenceCase& c, const std::string& propagator,
                long long trajectories) {
  return solve(ref::reference_config(
      c, {"solver.kind=trajectories", "solver.propagator=" + propagator,
          "solver.trajectories=" + std::to_string(trajectories), "solver.seed=11",
          "solver.threads=2"}));
}

ref::Bound four_sigma(long long trajectories) {
  ref::Bound bound;
  bound.sigmas = 4.0;
  bound.floor = 3.0 / static_cast<double>(trajectories);
  return bound;
}

void expect_within_4_se(const std::string& name, const std::string& propagator,
                        long long trajectories) {
  SCOPED_TRACE(name + " (" + propagator + ")");
  const LocalReferenceCase c = local_reference_case("cases", name);
  const Result r = run_case(c, propagator, trajectories);
  ASSERT_EQ(r.solver, "trajectories");
  ASSERT_EQ(std::get<std::string>(r.attributes.at("propagator")), propagator);
  ref::record(c, ref::compare_with_reference(r, c, four_sigma(trajectories), true, false));
}

// As many trajectories as make a 30% error in one rate fail (RateErrorIsDetected); 10 cases of
// 2000 take ~6 s on 2 cores.
constexpr long long kTrajectories = 2000;

// The test has power: with the local emission rate 30% high (0.26 for 0.2), the comparison fails.
TEST(LocalTrajectoryReference, RateErrorIsDetected) {
  LocalReferenceCase c = local_reference_case("cases", "emission_3_2");
  const std::string::size_type at = c.run_file.find("emission = 0.2\n");
  ASSERT_NE(at, std::string::npos);
  c.run_file.replace(at, 14, "emission = 0.26");
  const Result r = run_case(c, "krylov", kTrajectories);
  c.run_file.clear();
  ::testing::TestPartResultArray failures;
  std::vector<ref::Worst> worst;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    worst = ref::compare_with_reference(r, c, four_sigma(kTrajectories), true, false);
  }
  EXPECT_GE(failures.size(), 2);
  for (const ref::Worst& w : worst)
    if (w.observable == "local_quanta" || w.observable == "jz_over_n")
      EXPECT_GT(w.ratio, 1.0) << w.observable;
}

// Each process alone on a chain.
TEST(LocalTrajectoryReference, Emission) { expect_within_4_se("emission_3_2", "krylov", kTrajectories); }
TEST(LocalTrajectoryReference, Pumping) { expect_within_4_se("pumping_3_2", "krylov", kTrajectories); }
TEST(LocalTrajectoryReference, DephasingSpectral) {
  expect_within_4_se("dephasing_3_2", "spectral", kTrajectories);
}
// The three together, with the adaptive propagator.
TEST(LocalTrajectoryReference, MixedAdaptive) {
  expect_within_4_se("mixed_3_2", "adaptive", kTrajectories);
}
TEST(LocalTrajectoryReference, ChainOfThree) {
  expect_within_4_se("chain_2_2_2", "krylov", kTrajectories);
}
TEST(LocalTrajectoryReference, StarWithRatesOnASubset) {
  expect_within_4_se("star_3_1_1", "krylov", kTrajectories);
}
TEST(LocalTrajectoryReference, ThermalReservoirWithLocalPumping) {
  expect_within_4_se("thermal_pumping_2_2", "krylov", kTrajectories);
}
// `product 2`: start blocks drawn per trajectory (docs/local.md, "Trajectories").
TEST(LocalTrajectoryReference, ProductState) {
  expect_within_4_se("product_4_2", "krylov", kTrajectories);
}
TEST(LocalTrajectoryReference, DickeState) { expect_within_4_se("dicke_4_2", "krylov", kTrajectories); }
TEST(LocalTrajectoryReference, CoherentStates) {
  expect_within_4_se("coherent_3_2", "krylov", kTrajectories);
}

}  // namespace
}  // namespace qtraj
