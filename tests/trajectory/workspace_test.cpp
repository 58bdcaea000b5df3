// Per-propagator workspace sizes (system_view.hpp: workspace_doubles<P>, carve_workspace<P>) and
// the multi-threaded per-sector set-up of TrajectorySystem.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "trajectory/test_helpers.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::trajectory::testing;

namespace {

/// Runs trajectory `index` with the spectral propagator in a workspace of exactly
/// workspace_doubles<SpectralPropagator> doubles followed by a NaN guard, checks the guard.
OneTrajectory run_in_tight_workspace(const Fixture& f, std::uint64_t index, bool& guard_intact) {
  const auto& sys = f.system->view();
  const long long need =
      workspace_doubles<SpectralPropagator>(sys.max_sector_dim, sys.num_channels);
  constexpr int kGuard = 512;
  std::vector<double> buf(static_cast<std::size_t>(need) + kGuard,
                          std::numeric_limits<double>::quiet_NaN());
  SharedRun run(f, 256);
  PhiloxStream rng(11, index);
  for (int i = 0; i < sys.num_domains; ++i) rng.uniform();
  const auto& p = f.system->sector_probability();
  const int n = draw_sector(rng, p.data(), static_cast<int>(p.size()));
  TrajectoryStart start{n, f.system->start_re(n), f.system->start_im(n), f.system->complex_state()};
  const TrajectoryWorkspace ws =
      carve_workspace<SpectralPropagator>(buf.data(), sys.max_sector_dim, sys.num_channels);
  TrajectoryOutput out = run.output(f.times);
  SerialTeam team;
  SpectralPropagator prop;
  run.result.jumps = run_trajectory(team, sys, prop, rng, start, ws, out);
  guard_intact = true;
  for (int k = 0; k < kGuard; ++k) guard_intact = guard_intact && std::isnan(buf[need + k]);
  return run.result;
}

}  // namespace

TEST(Workspace, SizedPerPropagator) {
  EXPECT_EQ(workspace_doubles<SpectralPropagator>(100, 3), 8 * 100 + 3);
  EXPECT_EQ(workspace_doubles<AdaptivePropagator>(100, 3), 26 * 100 + 3);
  EXPECT_EQ(TrajectoryWorkspace::doubles_needed(100, 3), 26 * 100 + 3);  // the default: adaptive
  double base[8 * 10 + 2];
  const TrajectoryWorkspace ws = carve_workspace<SpectralPropagator>(base, 10, 2);
  EXPECT_EQ(ws.rk, base + 60);
  EXPECT_EQ(ws.channel_weight, base + 80);
}

TEST(Workspace, SpectralRunsInItsSmallerWorkspace) {
  // Thermal and complex (every array of the workspace in use), and the zero-temperature chain.
  Fixture thermal(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.3),
                  linear_grid(10.0, 21));
  Fixture chain(make_model({12, 6, 2}, {"excited", "ground", "ground"}), linear_grid(20.0, 41));
  for (const Fixture* f : {&thermal, &chain})
    for (std::uint64_t index : {0, 1, 2, 7}) {
      bool guard_intact = false;
      const OneTrajectory tight = run_in_tight_workspace(*f, index, guard_intact);
      EXPECT_TRUE(guard_intact) << "the spectral propagator wrote past 8 d + C doubles";
      SharedRun ref(*f, 256);  // the full 26 d + C workspace
      SerialTeam team;
      run_one(team, *f, ref, 11, index, false);
      ASSERT_EQ(tight.jumps, ref.result.jumps);
      EXPECT_EQ(tight.obs, ref.result.obs);  // bit-identical: same arithmetic, other addresses
      EXPECT_EQ(tight.jump_time, ref.result.jump_time);
      EXPECT_EQ(tight.channel_counts, ref.result.channel_counts);
      for (double v : tight.obs) EXPECT_FALSE(std::isnan(v));
    }
}

TEST(Workspace, SpectralRunsInAnExactlySizedHeapWorkspace) {
  // No guard: a heap block of exactly workspace_doubles<SpectralPropagator> doubles, so an
  // AddressSanitizer build reports any access past it. Checked when written (g++ -fsanitize=address
  // of this file against libqtraj_core.a; the propagator templates are instantiated here): clean;
  // with one double less, ASan reports the heap-buffer-overflow (channel_weight, trajectory.hpp).
  Fixture f(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.3),
            linear_grid(10.0, 21));
  const auto& sys = f.system->view();
  for (std::uint64_t index : {0, 3}) {
    std::vector<double> exact(static_cast<std::size_t>(
        workspace_doubles<SpectralPropagator>(sys.max_sector_dim, sys.num_channels)));
    SharedRun run(f, 256);
    PhiloxStream rng(11, index);
    for (int i = 0; i < sys.num_domains; ++i) rng.uniform();
    const auto& p = f.system->sector_probability();
    const int n = draw_sector(rng, p.data(), static_cast<int>(p.size()));
    TrajectoryStart start{n, f.system->start_re(n), f.system->start_im(n), true};
    const TrajectoryWorkspace ws =
        carve_workspace<SpectralPropagator>(exact.data(), sys.max_sector_dim, sys.num_channels);
    TrajectoryOutput out = run.output(f.times);
    SerialTeam team;
    SpectralPropagator prop;
    const int jumps = run_trajectory(team, sys, prop, rng, start, ws, out);
    SharedRun ref(f, 256);
    run_one(team, f, ref, 11, index, false);
    EXPECT_EQ(jumps, ref.result.jumps);
    EXPECT_EQ(run.result.obs, ref.result.obs);
  }
}

TEST(SystemSetup, ThreadedEigensystemsAreBitIdentical) {
  // Sectors of many sizes (and a thermal model: every sector up to the top has data).
  for (double nbar : {0.0, 0.3}) {
    const Model model = make_model({14, 7, 3}, {"excited", "dicke 2", "ground"}, nbar);
    const auto channels = collapse_channels(model);
    const qtraj::trajectory::testing::FirstComponents first(model);
    const auto& chosen = first.chosen;
    const TrajectorySystem serial(model, channels, chosen, true, true, 1);
    for (int threads : {2, 3, 8}) {
      const TrajectorySystem par(model, channels, chosen, true, true, threads);
      const SystemView &a = serial.view(), &b = par.view();
      ASSERT_EQ(a.spectral_max_sector, b.spectral_max_sector);
      const std::int64_t dim = a.sector_begin[a.max_excitation + 1];
      std::int64_t eig_size = 0;
      for (int n = 0; n <= a.spectral_max_sector; ++n) {
        ASSERT_EQ(a.eig_offset[n], b.eig_offset[n]);
        eig_size = a.eig_offset[n] + std::int64_t(a.sector_dim(n)) * a.sector_dim(n);
      }
      EXPECT_GT(eig_size, 0);
      for (std::int64_t s = 0; s < dim; ++s) ASSERT_EQ(a.lambda[s], b.lambda[s]) << threads;
      for (std::int64_t k = 0; k < eig_size; ++k) {
        ASSERT_EQ(a.eig_v[k], b.eig_v[k]) << threads;
        ASSERT_EQ(a.eig_vt[k], b.eig_vt[k]) << threads;
      }
      for (std::int64_t s = 0; s <= dim; ++s) ASSERT_EQ(a.k_row_ptr[s], b.k_row_ptr[s]);
    }
  }
}
