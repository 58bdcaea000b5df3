// Shards (solver.first_trajectory) merged by `qtraj merge` give the statistics of one run over
// the union of their trajectory ranges.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "qtraj/solvers.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;

class TrajMerge : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_merge_test"};
  const fs::path dir_ = scratch_.path;

  // Runs trajectories first .. first + count - 1 of the (12, 6, 2) chain and writes them.
  std::string shard(std::int64_t first, std::int64_t count, const std::string& name,
                    std::vector<std::string> extra = {}) {
    extra.push_back("solver.first_trajectory=" + std::to_string(first));
    extra.push_back("solver.trajectories=" + std::to_string(count));
    const RunConfig c = parse_run_config(
        "[system]\ndomains = [12, 6, 2]\n[time]\nend = 4.0\npoints = 9\n"
        "[solver]\nkind = \"trajectories\"\nseed = 7\nrecord_jumps = 2\nthreads = 1\n",
        extra);
    const std::string path = (dir_ / name).string();
    write_result(path, solve_trajectories(c), c);
    return path;
  }
};

TEST_F(TrajMerge, ShardsMergeToTheStatisticsOfOneRun) {
  const std::string whole = shard(0, 3000, "whole.h5");
  const std::string a = shard(0, 1000, "a.h5"), b = shard(1000, 1200, "b.h5"),
                    c = shard(2200, 800, "c.h5");
  const MergedShards merged = merge_trajectory_shards({c, a, b});  // any order
  const StoredResult one = read_result(whole);
  const Result& m = merged.result;
  EXPECT_EQ(std::get<std::int64_t>(m.attributes.at("trajectories")), 3000);
  EXPECT_EQ(std::get<std::int64_t>(m.attributes.at("aggregator_count")), 3000);
  // Same trajectories (Philox keyed by the global index), different summation order: equal to
  // rounding, not bitwise.
  for (std::size_t k = 0; k < m.time.size(); ++k)
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(m.jz_over_n_mean(k, i), one.result.jz_over_n_mean(k, i), 1e-13);
      EXPECT_NEAR(m.jz_over_n_stderr(k, i), one.result.jz_over_n_stderr(k, i), 1e-13);
    }
  // Histograms add up; jump records keep their global trajectory indices.
  Dataset h_merged, h_one;
  for (const auto& d : m.extra)
    if (d.path == "/jump_counts/histogram") h_merged = d;
  ASSERT_TRUE(read_dataset(whole, "/jump_counts/histogram", &h_one));
  EXPECT_EQ(std::get<std::vector<std::int64_t>>(h_merged.values),
            std::get<std::vector<std::int64_t>>(h_one.values));
  std::vector<std::int64_t> traj;
  for (const auto& d : m.extra)
    if (d.path == "/jumps/trajectory") traj = std::get<std::vector<std::int64_t>>(d.values);
  ASSERT_FALSE(traj.empty());
  for (std::int64_t t : {0, 1, 1000, 1001, 2200, 2201})
    EXPECT_NE(std::find(traj.begin(), traj.end(), t), traj.end()) << t;
}

TEST_F(TrajMerge, IncompatibleShardsAreRejected) {
  const std::string a = shard(0, 100, "a.h5");
  EXPECT_THROW(merge_trajectory_shards({a, shard(50, 100, "overlap.h5")}), InputError);
  EXPECT_THROW(merge_trajectory_shards({a, shard(100, 100, "seed.h5", {"solver.seed=8"})}), InputError);
  EXPECT_THROW(merge_trajectory_shards({a, shard(100, 100, "grid.h5", {"time.points=5"})}), InputError);
  EXPECT_THROW(merge_trajectory_shards({a, shard(100, 100, "model.h5", {"system.domains=[12, 6, 3]"})}),
               InputError);
  EXPECT_NO_THROW(merge_trajectory_shards({a, shard(100, 100, "next.h5")}));
}

}  // namespace
}  // namespace qtraj
