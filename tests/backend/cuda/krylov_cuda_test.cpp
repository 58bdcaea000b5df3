// The Krylov propagator on the GPU (kernels/krylov_kernel.cu) against references:
//  - the CPU's Krylov trajectories of the same seed (run_cpu, SerialTeam): same jump counts and
//    channels, jump times and observables to 1e-8 (block reductions reorder the sums; a step or
//    basis-size decision near its threshold may then differ, bounded by rtol = 1e-10 per step);
//  - shared vs global workspace placement: bit-identical (same arithmetic, same block size);
//  - solve_trajectories with backend = "cuda" vs backend = "cpu" (same seed, lean bundles, device
//    aggregation): means to 1e-8, histograms equal; and vs the exact solver within 4 SE;
//  - a large sector (d_max = 1111: ~780 KB of workspace per block) in the global scratch.
// The kernel body itself runs on the CPU in tests/backend/ensemble_reduction_test.cpp (bit-identical
// to the CPU backend) and trajectory_batch_body_test.cpp. Without a CUDA device every test here skips.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/solvers.hpp"
#include "trajectory/propagator_choice.hpp"
#include "trajectory/solver_test_helpers.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

TEST(CudaKrylov, BatchEqualsCpuKrylovAndPlacementsAreBitIdentical) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  const PropagatorSettings k = krylov();
  const std::int64_t first = 3, count = 200;
  LaunchSettings shared_ws, global_ws;
  shared_ws.placement = WorkspacePlacement::shared;
  global_ws.placement = WorkspacePlacement::global;
  auto a = c.runner(shared_ws);
  BatchOutput in_shared;
  a.run(first, count, kSeed, k, c.times, kCapacity, first + count, in_shared);
  EXPECT_TRUE(a.last_launch().shared_workspace);
  auto b = c.runner(global_ws);
  BatchOutput in_global;
  b.run(first, count, kSeed, k, c.times, kCapacity, first + count, in_global);
  EXPECT_FALSE(b.last_launch().shared_workspace);
  EXPECT_TRUE(bitwise_equal(in_shared, in_global));
  EXPECT_TRUE(equivalent(in_shared, run_cpu_range(c, first, count, k), 1e-8));
}

TEST(CudaKrylov, LeanThermalCoherentEqualsCpuKrylov) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // Lean bundles (as a Krylov run builds them: amplitudes and observables from k), complex states.
  Case c(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21), false, false);
  const PropagatorSettings k = krylov();
  auto runner = c.runner(LaunchSettings{});
  BatchOutput out;
  runner.run(0, 100, kSeed, k, c.times, kCapacity, 100, out);
  EXPECT_TRUE(equivalent(out, run_cpu_range(c, 0, 100, k), 1e-8));
}

TEST(CudaKrylov, LargeSectorsRunInGlobalScratch) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // (600,100,10): j = (300,50,5), d_n up to 101 x 11 = 1111: workspace ~88 d doubles = 780 KB.
  // Lean bundle (a spectral one would need ~10 GB of eigenvectors).
  Case c(make_model({600, 100, 10}, {"excited", "ground", "ground"}, 0.0), linear_grid(2.0, 5),
         false, false);
  const PropagatorSettings k = krylov();
  auto runner = c.runner(LaunchSettings{});
  BatchOutput out;
  runner.run(0, 6, kSeed, k, c.times, kCapacity, 6, out);
  EXPECT_FALSE(runner.last_launch().shared_workspace);
  EXPECT_GT(runner.last_launch().workspace_bytes, 700000);
  EXPECT_TRUE(equivalent(out, run_cpu_range(c, 0, 6, k), 1e-8));
}

TEST(CudaKrylov, SolverCudaEqualsCpuBackendAndExactWithin4SE) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  using namespace qtraj::trajectory_solver_testing;
  RunConfig cpu_cfg =
      make_config({12, 6, 2}, {"excited", "ground", "ground"}, 20.0, 21, 4000, "krylov");
  cpu_cfg.solver.record_jumps = 30;
  RunConfig gpu_cfg = cpu_cfg;
  gpu_cfg.solver.backend = "cuda";
  const Result cpu = solve_trajectories(cpu_cfg);
  const Result gpu = solve_trajectories(gpu_cfg);
  ASSERT_EQ(gpu.jz_over_n_mean.rows, cpu.jz_over_n_mean.rows);
  for (std::size_t t = 0; t < cpu.jz_over_n_mean.rows; ++t)
    for (std::size_t i = 0; i < cpu.jz_over_n_mean.cols; ++i) {
      EXPECT_NEAR(gpu.jz_over_n_mean(t, i), cpu.jz_over_n_mean(t, i), 1e-8);
      EXPECT_NEAR(gpu.jz_over_n_stderr(t, i), cpu.jz_over_n_stderr(t, i), 1e-8);
    }
  RunConfig exact = cpu_cfg;
  exact.solver.kind = "exact";
  exact.solver.rtol = 1e-10;
  exact.solver.atol = 1e-12;
  expect_within_4_sigma(gpu, solve_exact(exact));
}

TEST(CudaKrylov, AutoBudgetsAgainstDeviceMemory) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  const DeviceMemory m = device_memory();
  EXPECT_GT(m.total, 0u);
  const std::int64_t budget = backend::default_memory_limit("cuda");
  EXPECT_LE(budget, static_cast<std::int64_t>(m.total / 2));
  EXPECT_LE(budget, backend::default_memory_limit());
}
