// The propagator registry (include/qtraj/trajectory/propagators.hpp: kinds, names, bundle needs,
// the with_propagator dispatch) and the jump step both engines share (jump_step, trajectory.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "trajectory/test_helpers.hpp"

namespace qtraj::trajectory {
namespace {

using testing::FirstComponents;
using testing::Fixture;
using testing::make_model;
using testing::SharedRun;

TEST(Propagators, NamesAreTheRunFileValuesAndRoundTrip) {
  // solver.propagator's values and the result attribute `propagator`: a user contract.
  EXPECT_EQ(propagator_name(PropagatorKind::spectral), "spectral");
  EXPECT_EQ(propagator_name(PropagatorKind::adaptive), "adaptive");
  EXPECT_EQ(propagator_name(PropagatorKind::krylov), "krylov");
  EXPECT_EQ(propagator_names(), "spectral | adaptive | krylov");
  for (PropagatorKind k : kPropagatorKinds) {
    PropagatorKind back = k == PropagatorKind::spectral ? PropagatorKind::krylov
                                                        : PropagatorKind::spectral;
    ASSERT_TRUE(propagator_from_name(propagator_name(k), back)) << propagator_name(k);
    EXPECT_EQ(back, k);
  }
  PropagatorKind k = PropagatorKind::adaptive;
  for (const char* other : {"auto", "Krylov", "lanczos", ""}) {
    EXPECT_FALSE(propagator_from_name(other, k)) << other;
    EXPECT_EQ(k, PropagatorKind::adaptive) << "left as it was";
  }
}

TEST(Propagators, RunFileTakesAutoAndEveryKindAndNamesTheFieldOtherwise) {
  const std::string base = "[system]\ndomains = [2, 1]\n[solver]\nkind = \"trajectories\"\n";
  for (const char* name : {"auto", "spectral", "adaptive", "krylov"})
    EXPECT_EQ(parse_run_config(base + "propagator = \"" + name + "\"\n").solver.propagator, name);
  try {
    parse_run_config(base + "propagator = \"dopri\"\n");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.field(), "solver.propagator");
    EXPECT_NE(what.find("\"dopri\""), std::string::npos) << what;
    EXPECT_NE(what.find("adaptive | auto | krylov | spectral"), std::string::npos) << what;
  }
}

template <class Expected>
struct IsClass {
  template <class P>
  bool operator()(const P&) const { return std::is_same<P, Expected>::value; }
};

TEST(Propagators, WithPropagatorHandsEachKindItsOwnClass) {
  const PropagatorParams params;
  EXPECT_TRUE(with_propagator(PropagatorKind::spectral, params, IsClass<SpectralPropagator>()));
  EXPECT_TRUE(with_propagator(PropagatorKind::adaptive, params, IsClass<AdaptivePropagator>()));
  EXPECT_TRUE(with_propagator(PropagatorKind::krylov, params, IsClass<KrylovPropagator>()));
  EXPECT_FALSE(with_propagator(PropagatorKind::krylov, params, IsClass<SpectralPropagator>()));
  // Workspace sizes go through it (CPU backend, CUDA runner): each class's own.
  auto scratch = [](PropagatorKind kind) {
    return with_propagator(kind, {}, [](auto p) { return decltype(p)::scratch_doubles(50); });
  };
  EXPECT_EQ(scratch(PropagatorKind::spectral), SpectralPropagator::scratch_doubles(50));
  EXPECT_EQ(scratch(PropagatorKind::adaptive), AdaptivePropagator::scratch_doubles(50));
  EXPECT_EQ(scratch(PropagatorKind::krylov), KrylovPropagator::scratch_doubles(50));
}

TEST(Propagators, WithPropagatorPassesTheKrylovBasisLimit) {
  // One trajectory with the Krylov propagator made by with_propagator: max_basis reaches it (a
  // basis of at most 3 vectors needs many more time-stepped restarts than one of up to 40).
  Fixture f(make_model({6, 4, 2}, {"excited", "ground", "ground"}), testing::linear_grid(2.0, 5),
            false, false);
  auto restarts = [&](int max_basis) {
    SharedRun run(f, 16);
    return with_propagator(PropagatorKind::krylov, {1e-10, 1e-12, max_basis}, [&](auto prop) {
      SerialTeam team;
      testing::run_with(team, f, run, 5, 0, prop);
      EXPECT_GE(run.result.jumps, 0) << "reached the end";
      if constexpr (std::is_same<decltype(prop), KrylovPropagator>::value) return prop.restarts();
      ADD_FAILURE() << "not the Krylov propagator";
      return -1LL;
    });
  };
  const long long small = restarts(3), full = restarts(kKrylovMaxBasis);
  EXPECT_GT(small, full) << small << " vs " << full;
}

TEST(Propagators, BundleOfAKindHoldsWhatItNeeds) {
  const Model model = make_model({3, 2}, {"excited", "ground"});
  const std::vector<Channel> channels = collapse_channels(model);
  const FirstComponents components(model);
  for (PropagatorKind kind : kPropagatorKinds) {
    SCOPED_TRACE(propagator_name(kind));
    const PropagatorInfo info = propagator_info(kind);
    const TrajectorySystem sys(model, channels, components.chosen, kind);
    const SystemView& v = sys.view();
    EXPECT_EQ(v.lambda != nullptr, info.eigensystems);
    EXPECT_EQ(v.k_row_ptr != nullptr, info.sparse_k);
    EXPECT_EQ(v.lower_amp == nullptr, !info.eigensystems && !info.sparse_k) << "lean bundle";
  }
  EXPECT_TRUE(propagator_info(PropagatorKind::spectral).eigensystems);
  EXPECT_TRUE(propagator_info(PropagatorKind::adaptive).sparse_k);
  EXPECT_FALSE(propagator_info(PropagatorKind::spectral).tolerances);
  EXPECT_TRUE(propagator_info(PropagatorKind::krylov).tolerances);
}

TEST(Propagators, ARaisedStopFlagStopsEveryBundleSetUp) {
  // A stop request during a bundle's set-up (docs/configuration.md, "Stop signals"): the bundle
  // is not made, whatever it holds; with the flag down the same set-up completes.
  const Model model = make_model({3, 2}, {"excited", "ground"});
  const std::vector<Channel> channels = collapse_channels(model);
  const FirstComponents components(model);
  std::atomic<bool> stop{true};
  for (PropagatorKind kind : kPropagatorKinds) {
    SCOPED_TRACE(propagator_name(kind));
    EXPECT_THROW(TrajectorySystem(model, channels, components.chosen, kind, 2, {}, nullptr, &stop),
                 SetupStopped);
  }
  stop = false;
  const TrajectorySystem sys(model, channels, components.chosen, PropagatorKind::spectral, 2, {},
                             nullptr, &stop);
  EXPECT_NE(sys.view().lambda, nullptr);
}

/// A workspace for f's bundle holding the initial state of sector n scaled by `scale`.
TrajectoryWorkspace start_in(const Fixture& f, SharedRun& run, int n, double scale) {
  const SystemView& v = f.system->view();
  TrajectoryWorkspace ws = TrajectoryWorkspace::carve(run.work.data(), v.max_sector_dim,
                                                      v.num_channels,
                                                      testing::test_scratch(v.max_sector_dim));
  for (int a = 0; a < v.sector_dim(n); ++a) {
    ws.psi_re[a] = scale * f.system->start_re(n)[a];
    ws.psi_im[a] = 0.0;
  }
  return ws;
}

TEST(JumpStep, DarkStateTakesNoDrawAndKeepsTheState) {
  // Every domain in its ground state at zero temperature: each lowering channel leaves the space.
  Fixture f(make_model({2, 1}, {"ground", "ground"}), {0.0, 1.0});
  SharedRun run(f, 4);
  const TrajectoryWorkspace ws = start_in(f, run, 0, 0.5);
  PhiloxStream rng(3, 7), reference(3, 7);
  SerialTeam team;
  const JumpOutcome jump =
      jump_step(team, f.system->view(), ws, 0, false, rng, run.result.channel_counts.data());
  EXPECT_EQ(jump.channel, -1);
  EXPECT_EQ(rng.uniform(), reference.uniform()) << "no draw taken";
  for (int c : run.result.channel_counts) EXPECT_EQ(c, 0);
  EXPECT_EQ(ws.psi_re[0], 0.5);
}

TEST(JumpStep, DrawsOneChannelByWeightAndNormalisesTheState) {
  Fixture f(make_model({3, 2}, {"excited", "ground"}), {0.0, 1.0});
  const SystemView& v = f.system->view();
  const int n = 3;
  for (std::uint64_t t = 0; t < 8; ++t) {
    SharedRun run(f, 4);
    const TrajectoryWorkspace ws = start_in(f, run, n, 0.3);  // unnormalised, as at a crossing
    PhiloxStream rng(11, t), reference(11, t);
    SerialTeam team;
    const JumpOutcome jump =
        jump_step(team, v, ws, n, false, rng, run.result.channel_counts.data());
    ASSERT_GE(jump.channel, 0);
    EXPECT_EQ(jump.target, n - 1) << "zero temperature: lowering channels only";
    const double r = reference.uniform();
    EXPECT_EQ(jump.channel, sample_index(r, ws.channel_weight, v.num_channels));
    EXPECT_EQ(rng.uniform(), reference.uniform()) << "exactly one draw taken";
    for (int c = 0; c < v.num_channels; ++c)
      EXPECT_EQ(run.result.channel_counts[c], c == jump.channel ? 1 : 0);
    double norm = 0.0;
    for (int a = 0; a < v.sector_dim(jump.target); ++a) norm += ws.psi_re[a] * ws.psi_re[a];
    EXPECT_NEAR(norm, 1.0, 1e-14);
  }
}

}  // namespace
}  // namespace qtraj::trajectory
