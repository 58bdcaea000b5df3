#pragma once
// Shared by the tests in tests/backend/cuda: the bundles of a run built as solve_trajectories builds them,
// the CPU reference of one trajectory (exactly the CPU backend's run_one, SerialTeam), and
// comparisons of a BatchOutput with CPU trajectories.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/trajectory_device_checks.hpp"
#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/model/model.hpp"
#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/philox.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/trajectory.hpp"
#include "trajectory/test_helpers.hpp"

#define QTRAJ_REQUIRE_CUDA_DEVICE()                                 \
  do {                                                              \
    if (!qtraj::cuda::device_available())                           \
      GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount == 0)";   \
  } while (0)

namespace qtraj::cuda::test_support {

using namespace qtraj::trajectory;

inline constexpr std::uint64_t kSeed = 20211004;
inline constexpr int kCapacity = 128;

// The models and grids of the CPU trajectory tests (tests/trajectory/test_helpers.hpp).
using qtraj::trajectory::testing::linear_grid;
using qtraj::trajectory::testing::make_model;

/// A run's bundles, built the way solve_trajectories builds them (one TrajectorySystem per
/// component choice), here eagerly for every choice of positive weight, with both propagators' data.
struct Case {
  Model model;
  std::vector<Channel> channels;
  std::vector<std::vector<DomainComponent>> components;
  std::vector<double> weights;
  std::vector<int> weight_begin{0};
  std::vector<double> times;
  std::map<std::vector<int>, std::unique_ptr<TrajectorySystem>> bundles;

  /// spectral = adaptive = false: lean bundles, as a Krylov run builds them.
  Case(Model m, std::vector<double> grid, bool spectral = true, bool adaptive = true)
      : model(std::move(m)), channels(collapse_channels(model)), times(std::move(grid)) {
    const int md = model.num_domains();
    for (int i = 0; i < md; ++i) {
      components.push_back(initial_components(model.initial[i], model.spins[i]));
      for (const auto& c : components.back()) weights.push_back(c.weight);
      weight_begin.push_back(static_cast<int>(weights.size()));
    }
    for (const auto& choice : drawable_choices(weights, weight_begin)) {
      std::vector<const DomainComponent*> chosen;
      for (int i = 0; i < md; ++i) chosen.push_back(&components[i][choice[i]]);
      bundles[choice] =
          std::make_unique<TrajectorySystem>(model, channels, chosen, spectral, adaptive);
    }
  }

  std::vector<BundleEntry> entries() const {
    std::vector<BundleEntry> out;
    for (const auto& [choice, system] : bundles) out.push_back(BundleEntry{choice, system.get()});
    return out;
  }
  TrajectoryBatchRunner runner(LaunchSettings launch) const {
    return TrajectoryBatchRunner(weights, weight_begin, entries(), launch);
  }
  int row() const { return 2 * model.num_domains(); }
};

struct CpuTrajectory {
  std::vector<double> obs, jump_time;
  std::vector<int> jump_channel, channel_counts;
  int jumps = 0;
};

/// Trajectory t exactly as src/backend/cpu_trajectories.cpp runs it (SerialTeam).
inline CpuTrajectory run_cpu(const Case& c, std::uint64_t seed, std::int64_t t,
                      const PropagatorSettings& p, int capacity) {
  const int md = c.model.num_domains();
  PhiloxStream rng(seed, static_cast<std::uint64_t>(t));
  std::vector<int> choice(md);
  draw_components(rng, md, c.weights.data(), c.weight_begin.data(), choice.data());
  const TrajectorySystem& bundle = *c.bundles.at(choice);
  const SystemView& sys = bundle.view();
  const auto& prob = bundle.sector_probability();
  const int n = draw_sector(rng, prob.data(), static_cast<int>(prob.size()));
  CpuTrajectory r;
  r.obs.assign(c.times.size() * c.row(), 0.0);
  r.jump_time.assign(capacity, 0.0);
  r.jump_channel.assign(capacity, -1);
  r.channel_counts.assign(sys.num_channels, 0);
  TrajectoryStart start{n, bundle.start_re(n), bundle.start_im(n), bundle.complex_state()};
  TrajectoryOutput out;
  out.times = c.times.data();
  out.num_times = static_cast<int>(c.times.size());
  out.obs = r.obs.data();
  out.jump_time = r.jump_time.data();
  out.jump_channel = r.jump_channel.data();
  out.jump_capacity = capacity;
  out.channel_counts = r.channel_counts.data();
  // The propagator and its workspace as the CPU backend makes them (with_propagator).
  r.jumps = with_propagator(p.kind, p.params(), [&](auto prop) {
    using P = decltype(prop);
    std::vector<double> work(
        static_cast<std::size_t>(workspace_doubles<P>(sys.max_sector_dim, sys.num_channels)));
    const TrajectoryWorkspace ws = carve_workspace<P>(work.data(), sys.max_sector_dim, sys.num_channels);
    SerialTeam team;
    return run_trajectory(team, sys, prop, rng, start, ws, out);
  });
  return r;
}

inline std::vector<CpuTrajectory> run_cpu_range(const Case& c, std::int64_t first, std::int64_t count,
                                         const PropagatorSettings& p) {
  std::vector<CpuTrajectory> out;
  for (std::int64_t t = first; t < first + count; ++t) out.push_back(run_cpu(c, kSeed, t, p, kCapacity));
  return out;
}

inline bool near(double a, double b, double tol) { return std::abs(a - b) <= tol * (1.0 + std::abs(b)); }

/// GPU batch (record_end >= first + count, capacity kCapacity) against the CPU trajectories.
inline ::testing::AssertionResult equivalent(const BatchOutput& gpu, const std::vector<CpuTrajectory>& cpu,
                                      double tol) {
  if (gpu.count != static_cast<std::int64_t>(cpu.size()))
    return ::testing::AssertionFailure() << "batch size " << gpu.count << " vs " << cpu.size();
  int with_jumps = 0;
  for (std::int64_t r = 0; r < gpu.count; ++r) {
    const CpuTrajectory& ref = cpu[r];
    const std::int64_t t = gpu.first + r;
    auto fail = [&]() { return ::testing::AssertionFailure() << "trajectory " << t << ": "; };
    if (gpu.jumps[r] != ref.jumps) return fail() << gpu.jumps[r] << " jumps vs " << ref.jumps;
    if (ref.jumps > 0) ++with_jumps;
    for (int ch = 0; ch < gpu.num_channels; ++ch)
      if (gpu.channel_counts_of(r)[ch] != ref.channel_counts[ch])
        return fail() << "channel " << ch << " count " << gpu.channel_counts_of(r)[ch] << " vs "
                      << ref.channel_counts[ch];
    const int stored = std::min(ref.jumps, gpu.jump_capacity);
    for (int j = 0; j < stored; ++j) {
      if (gpu.jump_channel_of(r)[j] != ref.jump_channel[j])
        return fail() << "jump " << j << " channel " << gpu.jump_channel_of(r)[j] << " vs "
                      << ref.jump_channel[j];
      if (!near(gpu.jump_time_of(r)[j], ref.jump_time[j], tol))
        return fail() << "jump " << j << " time " << gpu.jump_time_of(r)[j] << " vs "
                      << ref.jump_time[j];
    }
    const std::size_t values = static_cast<std::size_t>(gpu.num_times) * gpu.row;
    for (std::size_t q = 0; q < values; ++q)
      if (!near(gpu.obs_of(r)[q], ref.obs[q], tol))
        return fail() << "observable " << q << " (time " << q / gpu.row << ") " << gpu.obs_of(r)[q]
                      << " vs " << ref.obs[q];
  }
  if (with_jumps == 0) return ::testing::AssertionFailure() << "no trajectory jumped: vacuous";
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult bitwise_equal(const BatchOutput& a, const BatchOutput& b) {
  if (a.count != b.count || a.obs != b.obs || a.jumps != b.jumps ||
      a.channel_counts != b.channel_counts)
    return ::testing::AssertionFailure() << "outputs differ";
  for (std::int64_t r = 0; r < a.count; ++r)
    for (int j = 0; j < std::min(a.jumps[r], a.jump_capacity); ++j)
      if (a.jump_time_of(r)[j] != b.jump_time_of(r)[j] ||
          a.jump_channel_of(r)[j] != b.jump_channel_of(r)[j])
        return ::testing::AssertionFailure() << "jump records differ at trajectory " << a.first + r;
  return ::testing::AssertionSuccess();
}

inline PropagatorSettings spectral() { return PropagatorSettings{}; }
/// The Krylov propagator at the tolerances of its CPU tests (krylov_propagator_test.cpp).
inline PropagatorSettings krylov() {
  PropagatorSettings p;
  p.kind = PropagatorSettings::Kind::krylov;
  p.rtol = 1e-10;
  p.atol = 1e-12;
  return p;
}
inline PropagatorSettings adaptive() {
  PropagatorSettings p;
  p.kind = PropagatorSettings::Kind::adaptive;
  p.rtol = 1e-10;
  p.atol = 1e-12;
  return p;
}

/// Two aggregators hold the same count, means and M2, bit for bit.
inline void expect_bitwise(const Aggregator& a, const Aggregator& b) {
  ASSERT_EQ(a.count(), b.count());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a.means()[i], b.means()[i]) << i;
    ASSERT_EQ(a.m2()[i], b.m2()[i]) << i;
  }
}

}  // namespace qtraj::cuda::test_support
