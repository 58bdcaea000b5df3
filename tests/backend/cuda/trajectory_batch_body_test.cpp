// The batch kernel's per-trajectory body (run_batch_trajectory, kernels/trajectory_batch.cuh) run
// on the CPU with host pointers, no GPU needed. Everything the kernel adds around run_trajectory
// (component draws, choice key -> bundle, sector draw, start state, output offsets r = t - first,
// record_end, grid-stride order), and the bundle staging with its array lengths (stage_bundle,
// the runner's upload, here into guarded host buffers) are checked against the CPU backend:
//  - with SerialTeam: bit-identical to the reference (the same arithmetic in the same order);
//  - with ThreadTeams of 3 and 7 threads (strided loops, barriers, reductions: a CPU stand-in for a
//    thread block), to 1e-10 (spectral) / 1e-8 (adaptive), as tests/backend/thread_team_test.cpp.
// What this cannot check: BlockTeam itself, shared/global memory placement, the CUDA runtime calls
// (tests/backend/cuda/trajectory_cuda_test.cpp does, on a machine with a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "host_staged_batch.hpp"
#include "qtraj/backend/thread_team.hpp"
#include "bundle_staging.cuh"
#include "trajectory_batch.cuh"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

namespace {

/// Host staging of a batch (HostStagedBatch) plus the kernel's workspace.
struct HostBatch : HostStagedBatch {
  std::vector<double> work;

  HostBatch(const Case& c, std::int64_t first, std::int64_t count, int capacity,
            std::int64_t record_end)
      : HostStagedBatch(c, first, count, capacity, record_end) {
    const int c_ch = args.num_channels;
    // The largest workspace (adaptive or Krylov) and a guard, all NaN: run() carves the propagator's own
    // (smaller for the spectral one) and checks that everything beyond it stays NaN.
    work.assign(std::max(TrajectoryWorkspace::doubles_needed(max_dim, c_ch),
                         workspace_doubles<KrylovPropagator>(max_dim, c_ch)) + 256,
                std::numeric_limits<double>::quiet_NaN());
  }

  /// The kernel's loop nest with `grid` blocks run one after another, each by `team`, in the
  /// kernel's per-propagator workspace (carve_workspace<Propagator>); the NaN beyond it must stay.
  template <class Team, class Propagator>
  void run(Team& team, const Propagator& prop, int grid) {
    const auto need = static_cast<std::size_t>(workspace_doubles<Propagator>(args.max_dim, args.num_channels));
    const TrajectoryWorkspace ws = carve_workspace<Propagator>(work.data(), args.max_dim, args.num_channels);
    for (int block = 0; block < grid; ++block)
      for (std::int64_t t = args.first + block; t < args.first + args.count; t += grid)
        run_batch_trajectory(team, args, prop, ws, t);
    for (std::size_t k = need; k < work.size(); ++k)  // read only: safe on every team rank
      ASSERT_TRUE(std::isnan(work[k])) << "workspace overrun at " << k - need;
  }
};

template <class Propagator>
void check_case(const Case& c, const PropagatorSettings& p, const Propagator& prop,
                std::int64_t first, std::int64_t count, double team_tol) {
  const auto cpu = run_cpu_range(c, first, count, p);
  {
    HostBatch serial(c, first, count, kCapacity, first + count);
    SerialTeam team;
    serial.run(team, prop, 5);
    EXPECT_TRUE(equivalent(serial.out, cpu, 0.0)) << "SerialTeam must be bit-identical";
  }
  for (int size : {3, 7}) {
    SCOPED_TRACE("ThreadTeam of " + std::to_string(size));
    HostBatch shared(c, first, count, kCapacity, first + count);
    run_thread_team(size, [&](ThreadTeam& team) { shared.run(team, prop, 3); });
    EXPECT_TRUE(equivalent(shared.out, cpu, team_tol));
  }
}

}  // namespace

TEST(CudaBatchBody, SerialAndThreadTeamsReproduceCpuSpectral12_6_2) {
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  check_case(c, spectral(), SpectralPropagator(), 40, 60, 1e-10);
}

TEST(CudaBatchBody, SerialAndThreadTeamsReproduceCpuProductState) {
  Case c(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  ASSERT_GT(c.bundles.size(), 1u);
  check_case(c, spectral(), SpectralPropagator(), 0, 60, 1e-10);
}

TEST(CudaBatchBody, SerialAndThreadTeamsReproduceCpuThermalCoherent) {
  Case c(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21));
  check_case(c, spectral(), SpectralPropagator(), 7, 30, 1e-10);
  const PropagatorSettings a = adaptive();
  check_case(c, a, AdaptivePropagator(a.rtol, a.atol), 7, 8, 1e-8);
}

TEST(CudaBatchBody, SerialAndThreadTeamsReproduceCpuKrylov) {
  // The Krylov kernel's body (krylov_kernel.cu): SerialTeam bit-identical to the CPU backend's
  // Krylov trajectories; teams of 3 and 7 to 1e-8 (reordered sums can move a basis-size or step
  // decision, whose effect is bounded by rtol = 1e-10 per step).
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  const PropagatorSettings k = krylov();
  check_case(c, k, KrylovPropagator(k.rtol, k.atol, k.max_basis), 40, 30, 1e-8);
  Case t(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21));
  check_case(t, k, KrylovPropagator(k.rtol, k.atol, k.max_basis), 7, 12, 1e-8);
}

TEST(CudaBatchBody, RecordEndAndMissingBundle) {
  Case c(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  HostBatch batch(c, 0, 40, 4, 10);
  // Drop the bundle of the most frequent choice: its trajectories must report kMissingBundle.
  const std::vector<int> dropped = c.bundles.begin()->first;
  batch.table[choice_key(c.weight_begin.data(), 3, dropped.data())] = -1;
  SerialTeam team;
  batch.run(team, SpectralPropagator(), 1);
  int missing = 0;
  for (std::int64_t t = 0; t < 40; ++t) {
    PhiloxStream rng(kSeed, t);
    std::vector<int> choice(3);
    draw_components(rng, 3, c.weights.data(), c.weight_begin.data(), choice.data());
    if (choice == dropped) {
      EXPECT_EQ(batch.out.jumps[t], kMissingBundle);
      ++missing;
      continue;
    }
    const CpuTrajectory ref = run_cpu(c, kSeed, t, spectral(), kCapacity);
    ASSERT_EQ(batch.out.jumps[t], ref.jumps);
    if (t >= 10) {  // beyond record_end: nothing stored
      for (int j = 0; j < 4; ++j) EXPECT_EQ(batch.out.jump_time_of(t)[j], -1.0);
    } else {
      for (int j = 0; j < std::min(ref.jumps, 4); ++j)
        EXPECT_EQ(batch.out.jump_time_of(t)[j], ref.jump_time[j]);
    }
  }
  EXPECT_GT(missing, 0) << "choose a dropped choice that occurs";
}

TEST(CudaBatchBody, DrawableChoicesSkipZeroWeights) {
  // Domain 0: components of weight 0.5, 0.5, 0 (the last never drawn); domain 1: one component.
  const auto choices = drawable_choices({0.5, 0.5, 0.0, 1.0}, {0, 3, 4});
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0], (std::vector<int>{0, 0}));
  EXPECT_EQ(choices[1], (std::vector<int>{1, 0}));
  // "product 6" of 12 spins: j = 0..6, all with positive weight.
  Case c(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(1.0, 2));
  EXPECT_EQ(c.bundles.size(), 7u);
}
