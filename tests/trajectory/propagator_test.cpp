// The two no-jump propagators on single trajectories: analytic waiting times, spectral vs
// adaptive agreement (same seed: same jumps, jump times to 1e-6), dark states.
#include <gtest/gtest.h>

#include <cmath>

#include "trajectory/test_helpers.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::trajectory::testing;

TEST(TrajPropagator, SingleSpinWaitingTimeIsAnalytic) {
  // One spin, one reservoir of rate gamma: ||psi(t)||^2 = exp(-gamma t), so the jump happens at
  // t = -ln(u) / gamma with u the first waiting-time draw (after the component and sector draws).
  Model m = make_model({1}, {"excited"});
  const double gamma = 0.7;
  m.reservoirs = {Reservoir{{0}, gamma, 0.0}};
  Fixture f(m, linear_grid(100.0, 3));
  for (std::uint64_t index = 0; index < 20; ++index) {
    PhiloxStream rng(5, index);
    rng.uniform();  // component
    rng.uniform();  // sector
    const double expected = -std::log(rng.uniform()) / gamma;
    for (bool adaptive : {false, true}) {
      SharedRun run(f, 8);
      SerialTeam team;
      run_one(team, f, run, 5, index, adaptive);
      if (expected <= 100.0) {
        ASSERT_EQ(run.result.jumps, 1);
        EXPECT_NEAR(run.result.jump_time[0], expected, (adaptive ? 1e-7 : 1e-12) * (1 + expected));
      } else {
        EXPECT_EQ(run.result.jumps, 0);
      }
    }
  }
}

TEST(TrajPropagator, SpectralAndAdaptiveAgreeOnTheSameTrajectory) {
  struct Case {
    std::vector<long long> spins;
    std::vector<std::string> initial;
    double nbar;
  };
  const Case cases[] = {{{12, 6, 2}, {"excited", "ground", "ground"}, 0.0},
                        {{8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}, 0.0},
                        {{40, 2}, {"excited", "ground"}, 0.0},
                        {{4, 3, 1}, {"excited", "dicke 1", "ground"}, 0.3},
                        {{5, 3}, {"coherent 1.0 0.3", "coherent 2.0 -1.0"}, 0.1}};
  for (const auto& cs : cases) {
    Fixture f(make_model(cs.spins, cs.initial, cs.nbar), linear_grid(30.0, 7));
    for (std::uint64_t index = 0; index < 6; ++index) {
      SharedRun spec(f, 512), adap(f, 512);
      SerialTeam team;
      run_one(team, f, spec, 77, index, false);
      run_one(team, f, adap, 77, index, true, 1e-10, 1e-12);
      SCOPED_TRACE("N[0] = " + std::to_string(cs.spins[0]) + ", trajectory " + std::to_string(index));
      ASSERT_EQ(spec.result.jumps, adap.result.jumps);
      for (int j = 0; j < spec.result.jumps; ++j) {
        EXPECT_EQ(spec.result.jump_channel[j], adap.result.jump_channel[j]);
        EXPECT_NEAR(spec.result.jump_time[j], adap.result.jump_time[j], 1e-6);
      }
      for (std::size_t k = 0; k < spec.result.obs.size(); ++k)
        EXPECT_NEAR(spec.result.obs[k], adap.result.obs[k], 1e-6);
    }
  }
}

TEST(TrajPropagator, DarkStateNeverJumps) {
  // N = (1, 1), one reservoir: (|1,0> - |0,1>)/sqrt(2) is annihilated by L^- = J_1^- + J_2^-.
  Fixture f(make_model({1, 1}, {"excited", "ground"}), linear_grid(50.0, 6));
  const auto& sys = f.system->view();
  ASSERT_EQ(sys.sector_dim(1), 2);
  const double psi_re[2] = {1 / std::sqrt(2.0), -1 / std::sqrt(2.0)}, psi_im[2] = {0, 0};
  for (bool adaptive : {false, true}) {
    SharedRun run(f, 8);
    TrajectoryWorkspace ws =
        TrajectoryWorkspace::carve(run.work.data(), sys.max_sector_dim, sys.num_channels);
    TrajectoryOutput out = run.output(f.times);  // jump capacity 8
    PhiloxStream rng(1, 0);
    SerialTeam team;
    TrajectoryStart start{1, psi_re, psi_im, false};
    int jumps;
    if (adaptive) {
      AdaptivePropagator prop(1e-10, 1e-12);
      jumps = run_trajectory(team, sys, prop, rng, start, ws, out);
    } else {
      SpectralPropagator prop;
      jumps = run_trajectory(team, sys, prop, rng, start, ws, out);
    }
    EXPECT_EQ(jumps, 0);
    for (std::size_t k = 0; k < f.times.size(); ++k) {
      EXPECT_NEAR(run.result.obs[4 * k + 0], 0.0, 1e-9);  // <J_1^z> = (1/2)(1/2) + (1/2)(-1/2)
      EXPECT_NEAR(run.result.obs[4 * k + 2], 0.5, 1e-9);  // <J_1^+ J_1^-> = P(k_1 = 1)
    }
  }
}
