// The CUDA sector-batched engine (kernels/sector_batch_kernels.cu) on a GPU:
//  - per trajectory (TrajectoryBatchRunner::run with LaunchSettings::sector_batched): the same jumps
//    and channels as the CPU per-trajectory path (= the CPU sector-batched engine, bit for bit),
//    jump times and observables to 1e-12 relative (the device's exp/log differ from glibc's in
//    the last bit; everything else rounds as the host: the GEMM unfused in ascending order, the
//    step kernels --fmad=false); on sectors larger than one 32-row tile and groups of more than 32
//    columns, several bundles, thermal and complex cases;
//  - a trajectory's result does not depend on the batch it is in (bit for bit);
//  - end to end (solve_trajectories, backend = "cuda", batch_sectors = "on"): within 4 SE of the
//    exact solver, and equal to the CPU backend to 1e-12 relative.
// The bodies and the driver loop run on the CPU in tests/backend/sector_batch_body_test.cpp.
// Without a device every test skips.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/solvers.hpp"
#include "trajectory/solver_test_helpers.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

namespace {

LaunchSettings batched() {
  LaunchSettings l;
  l.sector_batched = true;
  return l;
}

void expect_same_as_cpu(const Case& c, std::int64_t first, std::int64_t count) {
  auto runner = c.runner(batched());
  BatchOutput out;
  runner.run(first, count, kSeed, spectral(), c.times, kCapacity, first + count, out);
  EXPECT_TRUE(equivalent(out, run_cpu_range(c, first, count, spectral()), 1e-12));
}

}  // namespace

TEST(CudaSectorBatch, SameTrajectoriesAsTheCpuPathTo1e12) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // (12,6,2): sectors up to 21 states; many trajectories per sector.
  expect_same_as_cpu(Case(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0),
                          linear_grid(20.0, 41)), 0, 300);
  // (40,10,4): sectors up to 55 states (two row tiles), groups of more than 32 columns.
  expect_same_as_cpu(Case(make_model({40, 10, 4}, {"excited", "ground", "ground"}, 0.0),
                          linear_grid(4.0, 21)), 7, 400);
}

TEST(CudaSectorBatch, SeveralBundlesThermalComplexAndDark) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  expect_same_as_cpu(Case(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0),
                          linear_grid(20.0, 41)), 0, 200);
  expect_same_as_cpu(Case(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
                          linear_grid(10.0, 21)), 3, 150);
  expect_same_as_cpu(Case(make_model({4, 4}, {"dicke 2", "dicke 1"}, 0.0), linear_grid(30.0, 31)),
                     0, 100);
}

TEST(CudaSectorBatch, TrajectoryDoesNotDependOnItsBatch) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({40, 10, 4}, {"excited", "ground", "ground"}, 0.0), linear_grid(4.0, 21));
  auto runner = c.runner(batched());
  BatchOutput all, a, b;
  runner.run(0, 257, kSeed, spectral(), c.times, 8, 257, all);
  runner.run(0, 100, kSeed, spectral(), c.times, 8, 257, a);
  runner.run(100, 157, kSeed, spectral(), c.times, 8, 257, b);
  const std::size_t values = c.times.size() * c.row();
  for (std::int64_t r = 0; r < 257; ++r) {
    const BatchOutput& part = r < 100 ? a : b;
    const std::int64_t pr = r < 100 ? r : r - 100;
    ASSERT_EQ(all.jumps[r], part.jumps[pr]) << r;
    for (std::size_t q = 0; q < values; ++q)
      ASSERT_EQ(all.obs_of(r)[q], part.obs_of(pr)[q]) << "trajectory " << r << " value " << q;
  }
}

TEST(CudaSectorBatch, EndToEndWithin4SigmaOfExactAndEqualToCpuTo1e12) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  using trajectory_solver_testing::make_config;
  RunConfig c = make_config({40, 10, 4}, {"excited", "ground", "ground"}, 3.0, 16, 4000, "spectral");
  c.solver.backend = "cuda";
  c.solver.batch_sectors = "on";
  const Result gpu = solve_trajectories(c);
  RunConfig e = c;
  e.solver.kind = "exact";
  e.solver.backend = "cpu";
  e.solver.rtol = 1e-10;
  e.solver.atol = 1e-12;
  trajectory_solver_testing::expect_within_4_sigma(gpu, solve_exact(e));
  RunConfig cpu_cfg = c;
  cpu_cfg.solver.backend = "cpu";
  const Result cpu = solve_trajectories(cpu_cfg);
  for (std::size_t k = 0; k < gpu.time.size(); ++k)
    for (std::size_t i = 0; i < gpu.jz_over_n_mean.cols; ++i)
      EXPECT_NEAR(gpu.jz_over_n_mean(k, i), cpu.jz_over_n_mean(k, i),
                  1e-12 * (1 + std::abs(cpu.jz_over_n_mean(k, i))));
}
