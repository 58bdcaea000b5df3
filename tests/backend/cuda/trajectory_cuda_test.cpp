// CUDA trajectory backend vs the reference (Ginkgo's ...IsEquivalentToRef, HOOMD's _compare):
// trajectory t on the GPU (one thread block, BlockTeam) must be trajectory t of the CPU backend
// (SerialTeam, the same draws: PhiloxStream(seed, t), component draws, sector draw, jumps):
// the same number of jumps and channels, jump times and observables equal to rounding.
//
// Tolerances: 1e-10 (relative, 1 + |x|) for the spectral propagator. The two sides differ only by
// summation order (block reductions vs serial sums), FMA contraction and the last bit of the
// device's exp/log, so the expected deviation is ~1e-13. For the adaptive propagator 1e-8: its
// step-size controller and dense-output root search amplify rounding differences (see
// tests/backend/thread_team_test.cpp, where ThreadTeams of several threads need the same bound).
//
// Without a CUDA device every test here skips with "no CUDA device" (it cannot pass silently).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/model.hpp"
#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/philox.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/trajectory.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using qtraj::cuda::BatchOutput;
using qtraj::cuda::BundleEntry;
using qtraj::cuda::LaunchSettings;
using qtraj::cuda::PropagatorSettings;
using qtraj::cuda::TrajectoryBatchRunner;
using qtraj::cuda::WorkspacePlacement;
using namespace qtraj::cuda::test_support;

namespace {

LaunchSettings with_block(int block, WorkspacePlacement placement = WorkspacePlacement::automatic,
                          int max_blocks = 0) {
  LaunchSettings s;
  s.block_size = block;
  s.placement = placement;
  s.max_blocks = max_blocks;
  return s;
}

/// The core cross-backend check: `count` trajectories from `first`, every block size of CUB's
/// test set (1, 7, 32, 65, 128: single thread, partial warps, more threads than components).
void expect_equivalent_for_block_sizes(const Case& c, const PropagatorSettings& p,
                                       std::int64_t first, std::int64_t count, double tol) {
  const auto cpu = run_cpu_range(c, first, count, p);
  for (int block : {1, 7, 32, 65, 128}) {
    SCOPED_TRACE("block size " + std::to_string(block));
    auto runner = c.runner(with_block(block));
    BatchOutput gpu;
    runner.run(first, count, kSeed, p, c.times, kCapacity, first + count, gpu);
    EXPECT_EQ(runner.last_launch().block_size, block);
    EXPECT_TRUE(equivalent(gpu, cpu, tol));
  }
}

}  // namespace

// --- random numbers and the block team ---

TEST(CudaPhilox, DeviceStreamEqualsCurandPhilox4x32_10) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // Proves both relations on the device: our block function == cuRAND's curand_Philox4x32_10 for
  // the same counter and key, and our stream == curand_init(seed, t, 0) + successive curand4()
  // (and == curand_init(seed, t, 4 b) + curand4() for block b); plus host == device bits.
  const std::uint64_t seeds[] = {0, 1, kSeed, 0xDEADBEEFCAFEF00Dull};
  const std::uint64_t trajs[] = {0, 1, 299, (1ull << 32) + 5};
  const int blocks = 9;
  for (auto seed : seeds)
    for (auto t : trajs) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " trajectory " + std::to_string(t));
      const auto check = qtraj::cuda::testing::philox_device_check(seed, t, blocks);
      EXPECT_EQ(check.ours, check.curand_block);
      EXPECT_EQ(check.ours, check.curand_stream);
      EXPECT_EQ(check.ours, check.curand_offset);
      const PhiloxStream host(seed, t);
      PhiloxStream draws(seed, t);
      for (int b = 0; b < blocks; ++b) {
        const Philox4x32 h = host.block(b);
        for (int w = 0; w < 4; ++w) EXPECT_EQ(check.ours[4 * b + w], h.v[w]);
      }
      for (int i = 0; i < 2 * blocks; ++i) EXPECT_EQ(check.uniforms[i], draws.uniform());
    }
}

TEST(CudaBlockTeam, ReduceSumIsBitIdenticalOnEveryThreadForAnyBlockSize) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  for (int size : {1, 7, 31, 32, 33, 65, 128, 255, 1000, 1024}) {
    SCOPED_TRACE("block size " + std::to_string(size));
    std::vector<double> v(size);
    double exact = 0.0;
    for (int i = 0; i < size; ++i) {
      v[i] = std::sin(1.0 + i) * std::pow(10.0, (i % 7) - 3);
      exact += v[i];
    }
    const int repeats = 3;
    const auto got = qtraj::cuda::testing::block_reduce_check(v, repeats);
    for (int rep = 0; rep < repeats; ++rep) {
      const double first = got[rep * size];
      for (int i = 1; i < size; ++i) ASSERT_EQ(got[rep * size + i], first) << "thread " << i;
      EXPECT_NEAR(first, (rep + 1) * exact, 1e-13 * (rep + 1) * (1 + std::abs(exact)));
    }
    if (size == 1) EXPECT_EQ(got[0], v[0]);  // a block of one is the SerialTeam
  }
}

// --- trajectories: every kernel against the reference, several block sizes ---

TEST(CudaTrajectories, Spectral12_6_2IsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  expect_equivalent_for_block_sizes(c, spectral(), 0, 300, 1e-10);
}

TEST(CudaTrajectories, Spectral8_6_5_1IsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}, 0.0),
         linear_grid(30.0, 31));
  expect_equivalent_for_block_sizes(c, spectral(), 0, 300, 1e-10);
}

TEST(CudaTrajectories, SpectralThermalIsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // nbar > 0: raising channels, every sector up to the top, jumps both ways.
  Case c(make_model({6, 3, 2}, {"excited", "dicke 1", "ground"}, 0.3), linear_grid(10.0, 21));
  expect_equivalent_for_block_sizes(c, spectral(), 0, 300, 1e-10);
}

TEST(CudaTrajectories, ProductInitialStateIsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // "product 6" of 12 spins: a mixture over j = 0..6, i.e. several bundles; trajectories pick one
  // by their component draw, on the device as on the CPU.
  Case c(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  ASSERT_GT(c.bundles.size(), 1u);
  expect_equivalent_for_block_sizes(c, spectral(), 0, 300, 1e-10);
}

TEST(CudaTrajectories, CoherentComplexStateIsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // Complex amplitudes over several sectors (the sector draw matters), thermal channels.
  Case c(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21));
  ASSERT_TRUE(c.bundles.begin()->second->complex_state());
  expect_equivalent_for_block_sizes(c, spectral(), 0, 300, 1e-10);
}

TEST(CudaTrajectories, Adaptive12_6_2IsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  expect_equivalent_for_block_sizes(c, adaptive(), 0, 100, 1e-8);
}

TEST(CudaTrajectories, AdaptiveThermalCoherentIsEquivalentToRef) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21));
  expect_equivalent_for_block_sizes(c, adaptive(), 0, 100, 1e-8);
}

// --- workspace placement, grid-stride, batching, recording ---

TEST(CudaTrajectories, GlobalScratchWorkspaceIsEquivalentToRefAndToShared) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}, 0.0),
         linear_grid(30.0, 31));
  const std::int64_t first = 1000, count = 200;  // not starting at 0
  for (const PropagatorSettings& p : {spectral(), adaptive()}) {
    const bool is_adaptive = p.kind == PropagatorSettings::Kind::adaptive;
    SCOPED_TRACE(is_adaptive ? "adaptive" : "spectral");
    const auto cpu = run_cpu_range(c, first, count, p);
    for (int block : {7, 65}) {
      SCOPED_TRACE("block size " + std::to_string(block));
      auto on_shared = c.runner(with_block(block, WorkspacePlacement::shared));
      auto on_global = c.runner(with_block(block, WorkspacePlacement::global));
      BatchOutput a, b;
      on_shared.run(first, count, kSeed, p, c.times, kCapacity, first + count, a);
      on_global.run(first, count, kSeed, p, c.times, kCapacity, first + count, b);
      EXPECT_TRUE(on_shared.last_launch().shared_workspace);
      EXPECT_FALSE(on_global.last_launch().shared_workspace);
      EXPECT_TRUE(equivalent(a, cpu, is_adaptive ? 1e-8 : 1e-10));
      EXPECT_TRUE(equivalent(b, cpu, is_adaptive ? 1e-8 : 1e-10));
      EXPECT_TRUE(bitwise_equal(a, b));  // same block size: the same arithmetic, bit for bit
    }
  }
}

TEST(CudaTrajectories, GridStrideAndBatchSplitDoNotChangeTrajectories) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"product 6", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  // One batch on the occupancy-sized grid vs a 7-block grid (each block runs ~43 trajectories)
  // vs two batches [0, 130) + [130, 300): trajectory t is a function of (seed, t) only.
  auto full = c.runner(with_block(32));
  auto narrow = c.runner(with_block(32, WorkspacePlacement::automatic, 7));
  BatchOutput all, strided, part1, part2;
  full.run(0, 300, kSeed, spectral(), c.times, kCapacity, 300, all);
  narrow.run(0, 300, kSeed, spectral(), c.times, kCapacity, 300, strided);
  EXPECT_EQ(narrow.last_launch().grid_size, 7);
  EXPECT_TRUE(bitwise_equal(all, strided));
  full.run(0, 130, kSeed, spectral(), c.times, kCapacity, 300, part1);
  full.run(130, 170, kSeed, spectral(), c.times, kCapacity, 300, part2);
  for (std::int64_t r = 0; r < 300; ++r) {
    const BatchOutput& p = r < 130 ? part1 : part2;
    const std::int64_t q = r < 130 ? r : r - 130;
    ASSERT_EQ(p.jumps[q], all.jumps[r]) << "trajectory " << r;
    for (int k = 0; k < all.num_times * all.row; ++k)
      ASSERT_EQ(p.obs_of(q)[k], all.obs_of(r)[k]) << "trajectory " << r;
  }
}

TEST(CudaTrajectories, RecordEndAndSmallCapacityMatchTheCpuBackend) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  auto runner = c.runner(with_block(32));
  BatchOutput out;
  const int capacity = 3;  // fewer than most trajectories' jumps: counted, not stored
  runner.run(0, 50, kSeed, spectral(), c.times, capacity, 20, out);
  for (std::int64_t t = 0; t < 50; ++t) {
    const CpuTrajectory ref = run_cpu(c, kSeed, t, spectral(), kCapacity);
    ASSERT_EQ(out.jumps[t], ref.jumps);
    if (t >= 20) continue;  // beyond record_end nothing is stored (the CPU's t >= record)
    for (int j = 0; j < std::min(ref.jumps, capacity); ++j)
      EXPECT_NEAR(out.jump_time_of(t)[j], ref.jump_time[j], 1e-10 * (1 + ref.jump_time[j]));
  }
}

TEST(CudaTrajectories, HostAggregationOfGpuOutputsEqualsCpu) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  // The caller's side: Aggregator::add of each trajectory's obs block, in index order, exactly as
  // the CPU backend's chunk aggregators do.
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  auto runner = c.runner(LaunchSettings{});
  BatchOutput out;
  runner.run(0, 300, kSeed, spectral(), c.times, 0, 0, out);
  const std::size_t values = c.times.size() * c.row();
  Aggregator gpu(values), cpu(values);
  for (std::int64_t t = 0; t < 300; ++t) {
    gpu.add(out.obs_of(t));
    cpu.add(run_cpu(c, kSeed, t, spectral(), 0).obs.data());
  }
  for (std::size_t q = 0; q < values; ++q) {
    EXPECT_NEAR(gpu.mean(q), cpu.mean(q), 1e-10 * (1 + std::abs(cpu.mean(q))));
    EXPECT_NEAR(gpu.standard_error(q), cpu.standard_error(q), 1e-9 * (1 + cpu.standard_error(q)));
  }
}

// --- errors ---

TEST(CudaRunner, MissingPropagatorDataIsAnErrorNamingIt) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Model m = make_model({4, 2}, {"excited", "ground"}, 0.0);
  const auto channels = collapse_channels(m);
  std::vector<std::vector<DomainComponent>> comps;
  std::vector<const DomainComponent*> chosen;
  for (int i = 0; i < 2; ++i) comps.push_back(initial_components(m.initial[i], m.spins[i]));
  for (auto& cc : comps) chosen.push_back(&cc[0]);
  TrajectorySystem spectral_only(m, channels, chosen, true, false);
  TrajectoryBatchRunner runner(spectral_only);
  BatchOutput out;
  try {
    runner.run(0, 4, kSeed, adaptive(), linear_grid(1.0, 3), 0, 0, out);
    FAIL() << "expected qtraj::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("adaptive"), std::string::npos) << e.what();
  }
}

TEST(CudaRunner, ImpossibleBlockSizeThrowsDeviceError) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({4, 2}, {"excited", "ground"}, 0.0), linear_grid(1.0, 3));
  auto runner = c.runner(with_block(4096));
  BatchOutput out;
  EXPECT_THROW(runner.run(0, 4, kSeed, spectral(), c.times, 0, 0, out), DeviceError);
}

TEST(CudaRunner, WithoutADeviceConstructionThrowsDeviceError) {
  if (qtraj::cuda::device_available()) GTEST_SKIP() << "a CUDA device is present";
  Case c(make_model({4, 2}, {"excited", "ground"}, 0.0), linear_grid(1.0, 3));
  try {
    auto runner = c.runner(LaunchSettings{});
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}
