// The team-parallel trajectory math run by ThreadTeams of 1, 3 and 7 threads (real concurrency,
// strided loops, barriers, reductions) must reproduce the SerialTeam run of the same trajectory:
// same jumps, jump times and observables to ~1e-12 (only the summation order differs).
#include <gtest/gtest.h>

#include <cmath>

#include "qtraj/backend/thread_team.hpp"
#include "trajectory/test_helpers.hpp"
#include "tsan_test.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::trajectory::testing;

namespace {

// Tolerance: 1e-12 for the spectral propagator. The adaptive one feeds reductions into its
// step-size controller and its dense-output root search, which amplify rounding differences of the
// reduction order (step factors are quantised to make step sequences agree, but jump times are
// only as sharp as the norm's rounding allows); where a step sequence still flips, the two runs
// differ by the integration error: 1e-8 there (rtol = 1e-10 in run_one).
void expect_team_equals_serial(const Fixture& f, bool adaptive, std::uint64_t index) {
  const double tol = adaptive ? 1e-8 : 1e-12;
  SharedRun serial(f, 256);
  SerialTeam one;
  run_one(one, f, serial, 11, index, adaptive);
  ASSERT_GT(serial.result.jumps, 0);
  for (int size : {1, 3, 7}) {
    SharedRun shared(f, 256);
    run_thread_team(size, [&](ThreadTeam& team) { run_one(team, f, shared, 11, index, adaptive); });
    SCOPED_TRACE("team size " + std::to_string(size) + (adaptive ? " adaptive" : " spectral"));
    ASSERT_EQ(shared.result.jumps, serial.result.jumps);
    for (int j = 0; j < serial.result.jumps; ++j) {
      EXPECT_EQ(shared.result.jump_channel[j], serial.result.jump_channel[j]);
      EXPECT_NEAR(shared.result.jump_time[j], serial.result.jump_time[j],
                  tol * (1 + serial.result.jump_time[j]));
    }
    EXPECT_EQ(shared.result.channel_counts, serial.result.channel_counts);
    for (std::size_t k = 0; k < serial.result.obs.size(); ++k)
      EXPECT_NEAR(shared.result.obs[k], serial.result.obs[k], tol * (1 + std::abs(serial.result.obs[k])));
  }
}

}  // namespace

QTRAJ_TSAN_TEST(TeamTrajectory, ThreadTeamEqualsSerialSpectral) {
  Fixture f(make_model({12, 6, 2}, {"excited", "ground", "ground"}), linear_grid(20.0, 41));
  for (std::uint64_t t : {0, 1, 5}) expect_team_equals_serial(f, false, t);
}

QTRAJ_TSAN_TEST(TeamTrajectory, ThreadTeamEqualsSerialAdaptive) {
  Fixture f(make_model({12, 6, 2}, {"excited", "ground", "ground"}), linear_grid(20.0, 41));
  for (std::uint64_t t : {0, 3}) expect_team_equals_serial(f, true, t);
}

QTRAJ_TSAN_TEST(TeamTrajectory, ThreadTeamEqualsSerialThermalComplexState) {
  // Coherent first domain (complex amplitudes, several sectors) and thermal raising channels.
  Fixture f(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.3),
            linear_grid(10.0, 21));
  ASSERT_TRUE(f.system->complex_state());
  for (bool adaptive : {false, true}) expect_team_equals_serial(f, adaptive, 2);
}
