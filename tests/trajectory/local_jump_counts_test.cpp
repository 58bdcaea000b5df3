// /jump_counts/local_mean and _stderr (README, HDF5 layout; docs/local.md "Trajectories"): the
// mean number of jumps per trajectory through each local channel (domain i, process p, j_i ->
// j_i + dj) up to each output time. Checked against the jump records (/jumps/local), the local
// quanta (emission and pumping counts summed over dj), the constant dephasing rate g_phi N / 4,
// the exact solver's quanta, the two-spin singlet-triplet hopping in closed form, and through
// `qtraj merge`.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <variant>
#include <vector>

#include "qtraj/io/hdf5.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

const std::vector<double>& doubles(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return std::get<std::vector<double>>(d.values);
  throw std::runtime_error("no dataset " + path);
}
const Dataset& dataset(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return d;
  throw std::runtime_error("no dataset " + path);
}

RunConfig trajectories(const std::string& body, double t_end, int points, long long count,
                       int record = 0) {
  return parse_run_config(body + "[time]\nend = " + std::to_string(t_end) +
                          "\npoints = " + std::to_string(points) +
                          "\n[solver]\nkind = \"trajectories\"\ntrajectories = " +
                          std::to_string(count) + "\nseed = 5\npropagator = \"krylov\"\n" +
                          "threads = 2\nrecord_jumps = " + std::to_string(record) + "\n");
}

// Index of (time k, domain i, process p, dj) in the n_t x M x 3 x 3 table.
std::size_t at(int m, std::size_t k, int i, int p, int dj) {
  return ((k * m + i) * 3 + p) * 3 + (dj + 1);
}

const std::string kTwoDomains =
    "[system]\ndomains = [3, 2]\ninitial = [\"excited\", \"product 1\"]\n[[local]]\n"
    "emission = 0.2\ndephasing = 0.4\n[[local]]\ndomains = [2]\npumping = 0.15\n";

// Every trajectory recorded: the means are the records counted up to each output time, divided
// by the trajectories; emission and pumping summed over dj are the local quanta.
TEST(LocalJumpCounts, CountTheRecordsAndSumToTheQuanta) {
  const long long n = 200;
  const Result r = solve_trajectories(trajectories(kTwoDomains, 3.0, 7, n, static_cast<int>(n)));
  const int m = 2;
  const Dataset& table = dataset(r, "/jump_counts/local_mean");
  ASSERT_EQ(table.shape, (std::vector<std::uint64_t>{7, 2, 3, 3}));
  const auto& mean = doubles(r, "/jump_counts/local_mean");
  const auto& quanta = doubles(r, "/local_quanta/mean");
  const auto& times = doubles(r, "/jumps/time");
  const auto& local = std::get<std::vector<std::int64_t>>(dataset(r, "/jumps/local").values);
  ASSERT_GT(times.size(), 0u);
  std::size_t local_jumps = 0;
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    std::vector<double> counted(static_cast<std::size_t>(m) * 9, 0.0);
    for (std::size_t j = 0; j < times.size(); ++j) {
      if (local[4 * j] == 0 || times[j] > r.time[k]) continue;
      const int i = static_cast<int>(local[4 * j] - 1), p = static_cast<int>(local[4 * j + 1] - 1);
      const int dj = static_cast<int>(local[4 * j + 3] - local[4 * j + 2]) / 2;
      counted[at(m, 0, i, p, dj)] += 1.0;
      if (k + 1 == r.time.size()) ++local_jumps;
    }
    for (int i = 0; i < m; ++i) {
      for (int p = 0; p < 3; ++p)
        for (int dj = -1; dj <= 1; ++dj)
          EXPECT_NEAR(mean[at(m, k, i, p, dj)], counted[at(m, 0, i, p, dj)] / n, 1e-12)
              << "t " << r.time[k] << " domain " << i + 1 << " process " << p << " dj " << dj;
      for (int p = 0; p < 2; ++p) {
        double sum = 0.0;
        for (int dj = -1; dj <= 1; ++dj) sum += mean[at(m, k, i, p, dj)];
        EXPECT_NEAR(sum, quanta[(k * m + i) * 2 + p], 1e-12);
      }
    }
  }
  EXPECT_GT(local_jumps, 100u);
  // The records hold every jump (fewer than 64 per trajectory here): the last row's counts are
  // every local jump, so the table is not trivially zero.
  double last = 0.0;
  for (int l = 0; l < 9 * m; ++l) last += mean[(r.time.size() - 1) * 9 * m + l] * n;
  EXPECT_NEAR(last, static_cast<double>(local_jumps), 1e-9);
}

// Dephasing jumps come at the constant rate g_phi N_i / 4 (docs/local.md section 3), whatever
// the state; local emission counts are the exact solver's emitted quanta.
TEST(LocalJumpCounts, DephasingRateAndEmissionAgainstExact) {
  const long long n = 2000;
  const Result r = solve_trajectories(trajectories(kTwoDomains, 3.0, 7, n));
  RunConfig exact_config = trajectories(kTwoDomains, 3.0, 7, n);
  exact_config.solver.kind = "exact";
  const Result e = solve(exact_config);
  const int m = 2;
  const auto& mean = doubles(r, "/jump_counts/local_mean");
  const auto& err = doubles(r, "/jump_counts/local_stderr");
  const auto& quanta_err = doubles(r, "/local_quanta/stderr");
  const auto& exact_quanta = doubles(e, "/local_quanta/mean");
  const double spins[] = {3, 2};
  for (std::size_t k = 1; k < r.time.size(); ++k)
    for (int i = 0; i < m; ++i) {
      double dephasing = 0.0, emission = 0.0;
      for (int dj = -1; dj <= 1; ++dj) {
        dephasing += mean[at(m, k, i, 2, dj)];
        emission += mean[at(m, k, i, 0, dj)];
        EXPECT_GT(err[at(m, k, i, 2, dj)], 0.0);
      }
      // A constant rate: the count is Poisson, its mean's SE sqrt(expected / n).
      const double expected = 0.4 * spins[i] / 4 * r.time[k];
      const double se = std::sqrt(expected / n);
      EXPECT_LE(std::abs(dephasing - expected), 4 * se) << "t " << r.time[k] << " domain " << i + 1;
      EXPECT_LE(std::abs(emission - exact_quanta[(k * m + i) * 2]),
                4 * quanta_err[(k * m + i) * 2])
          << "t " << r.time[k] << " domain " << i + 1;
    }
}

// Two spins from |j = 1, m = 0> under dephasing g: the only jumps are 1 -> 0 and 0 -> 1, each at
// rate g / 2 from its block, with P(j = 1) = (1 + e^{-g t}) / 2; so the mean counts are
// (g / 2) int P(1) = g t / 4 + (1 - e^{-g t}) / 4 (dj = -1), g t / 4 - (1 - e^{-g t}) / 4
// (dj = +1), and none with dj = 0 (its amplitude 2 m ... vanishes at m = 0).
TEST(LocalJumpCounts, SingletTripletHopping) {
  const double g = 0.8;
  const Result r = solve_trajectories(trajectories(
      "[system]\ndomains = [2]\ninitial = [\"dicke 1\"]\n[[local]]\ndephasing = 0.8\n", 3.0, 7,
      3000));
  const auto& mean = doubles(r, "/jump_counts/local_mean");
  const auto& err = doubles(r, "/jump_counts/local_stderr");
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    const double t = r.time[k], tail = (1 - std::exp(-g * t)) / 4;
    EXPECT_LE(std::abs(mean[at(1, k, 0, 2, -1)] - (g * t / 4 + tail)), 4 * err[at(1, k, 0, 2, -1)] + 1e-12)
        << "t " << t;
    EXPECT_LE(std::abs(mean[at(1, k, 0, 2, 1)] - (g * t / 4 - tail)), 4 * err[at(1, k, 0, 2, 1)] + 1e-12)
        << "t " << t;
    EXPECT_EQ(mean[at(1, k, 0, 2, 0)], 0.0);
    for (int p = 0; p < 2; ++p)
      for (int dj = -1; dj <= 1; ++dj) EXPECT_EQ(mean[at(1, k, 0, p, dj)], 0.0);
  }
  EXPECT_GT(mean[at(1, r.time.size() - 1, 0, 2, 1)], 0.1);
}

// Shards merge to the whole run's table (it lives in the aggregator rows).
TEST(LocalJumpCounts, ShardsMerge) {
  qtraj::testing::ScratchDir scratch{"qtraj_local_counts_merge"};
  auto shard = [&](long long first, long long count, const std::string& name) {
    RunConfig c = trajectories(kTwoDomains, 2.0, 3, count);
    c.solver.first_trajectory = first;
    const std::string path = (scratch.path / name).string();
    write_result(path, solve_trajectories(c), c);
    return path;
  };
  const std::string whole = shard(0, 300, "whole.h5");
  const MergedShards merged = merge_trajectory_shards({shard(120, 180, "b.h5"), shard(0, 120, "a.h5")});
  for (const char* path : {"/jump_counts/local_mean", "/jump_counts/local_stderr"}) {
    Dataset stored;
    ASSERT_TRUE(read_dataset(whole, path, &stored)) << path;
    const Dataset& m = dataset(merged.result, path);
    EXPECT_EQ(m.shape, stored.shape) << path;
    const auto& a = std::get<std::vector<double>>(m.values);
    const auto& b = std::get<std::vector<double>>(stored.values);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t q = 0; q < a.size(); ++q) EXPECT_NEAR(a[q], b[q], 1e-13) << path;
  }
}

}  // namespace
}  // namespace qtraj
