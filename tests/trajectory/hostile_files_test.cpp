// `qtraj merge` and `--resume` on hostile files, in process: every defect once seen (crashes,
// impossible contents accepted) as a file made here and refused in one line naming the file, the
// dataset or attribute and the value; files with random flipped bytes (fixed seeds) refused or
// read unchanged, never a crash; format-1 shards of qtraj 0.1.0 still merge to what it made.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "hdf5_tamper.hpp"
#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "scratch_dir.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;
using qtraj::testing::Hdf5Edit;

const fs::path kFormat1 = fs::path(QTRAJ_SOURCE_DIR) / "tests" / "io" / "format1";

// The run of tests/io/format1/traj.toml (2 + 1 spins, 24 trajectories, 3 recorded).
const char* kShardRun =
    "[system]\ndomains = [2, 1]\ninitial = [\"excited\", \"ground\"]\n[time]\nend = 2.0\npoints = 5\n"
    "[solver]\nkind = \"trajectories\"\ntrajectories = 24\nseed = 7\nrecord_jumps = 3\nthreads = 1\n";

// A run to checkpoint: 512 trajectories in 256 chunks of 2, 40 recorded.
const char* kCheckpointRun =
    "[system]\ndomains = [2, 1]\n[time]\nend = 2.0\npoints = 5\n"
    "[solver]\nkind = \"trajectories\"\ntrajectories = 512\nseed = 3\nrecord_jumps = 40\n"
    "threads = 1\n[output]\ncheckpoint_seconds = 0\n";

void expect_refusal(const std::function<void()>& f, const std::string& file,
                    const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected a refusal containing: " << needle;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

class HostileFiles : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_hostile_test"};
  std::string path(const std::string& name) const { return (scratch_.path / name).string(); }

  std::string shard(const std::string& name, std::int64_t first) {
    const RunConfig c =
        parse_run_config(kShardRun, {"solver.first_trajectory=" + std::to_string(first)});
    const std::string p = path(name);
    write_result(p, solve_trajectories(c), c);
    return p;
  }
  RunConfig checkpoint_config() const {
    return parse_run_config(kCheckpointRun, {"output.path=\"" + path("out.h5") + "\""});
  }
  // A checkpoint of chunks 0-3 (folded), 9 and 200 (pending), as an interrupted run leaves.
  std::string checkpoint() {
    const RunConfig c = checkpoint_config();
    backend::TrajectoryRun run(c.model, c.solver, c.time);
    backend::Tally tally(run);
    run.chunks = {0, 1, 2, 3, 9, 200};
    backend::run_trajectories_cpu(run, tally, {});
    const std::string p = checkpoint_path(c.output.path);
    backend::write_checkpoint(p, run, c, tally.snapshot());
    return p;
  }
  void read_checkpoint(const std::string& p) {
    const RunConfig c = checkpoint_config();
    backend::TrajectoryRun run(c.model, c.solver, c.time);
    backend::read_checkpoint(p, run, c);
  }
};

TEST_F(HostileFiles, Format1ShardsMergeToWhatQtraj010Made) {
  const auto merged = merge_trajectory_shards(
      {(kFormat1 / "shard_b.h5").string(), (kFormat1 / "shard_a.h5").string()});
  const std::string out = path("merged.h5");
  write_result(out, merged.result, merged.config);
  for (const char* d : {"/jz_over_n/mean", "/jz_over_n/stderr", "/aggregator/mean", "/aggregator/m2",
                        "/jump_counts/histogram", "/jumps/time", "/jumps/channel", "/jumps/trajectory"}) {
    Dataset a, b;
    ASSERT_TRUE(read_dataset(out, d, &a)) << d;
    ASSERT_TRUE(read_dataset((kFormat1 / "merged.h5").string(), d, &b)) << d;
    EXPECT_EQ(a.shape, b.shape) << d;
    EXPECT_TRUE(a.values == b.values) << d;
  }
  // Format 2 stores the same numbers as format 1: a shard run now equals 0.1.0's bit for bit.
  const std::string now = shard("a.h5", 0);
  for (const char* d : {"/jz_over_n/mean", "/aggregator/m2", "/jumps/time"}) {
    Dataset a, b;
    ASSERT_TRUE(read_dataset(now, d, &a));
    ASSERT_TRUE(read_dataset((kFormat1 / "shard_a.h5").string(), d, &b));
    EXPECT_TRUE(a.values == b.values) << d;
  }
}

TEST_F(HostileFiles, MergeRefusesImpossibleShards) {
  const std::string a = shard("a.h5", 0);
  auto merge_with = [&](const std::string& name, const std::function<void(Hdf5Edit&)>& edit) {
    const std::string b = shard(name, 24);
    {
      Hdf5Edit e(b);
      edit(e);
    }
    return b;
  };
  auto refused = [&](const std::string& b, const std::string& needle) {
    expect_refusal([&] { merge_trajectory_shards({a, b}); }, b, needle);
  };
  // Empty aggregator state (was a SIGSEGV).
  refused(merge_with("empty.h5", [](Hdf5Edit& e) {
            e.dataset("/aggregator/mean", {0}, std::vector<double>{});
            e.dataset("/aggregator/m2", {0}, std::vector<double>{});
          }),
          "/aggregator/mean: has the wrong shape, expected 5x4 (n_t x 2M (with local processes wider) of the stored config) (got 0)");
  // A stored config of 3 domains with data for 2 (invalid reads before).
  refused(merge_with("three.h5", [](Hdf5Edit& e) {
            std::string text = kShardRun;
            text.replace(text.find("[2, 1]"), 6, "[2, 1, 1]");
            text.replace(text.find("\"ground\"]"), 9, "\"ground\", \"ground\"]");
            e.string_attribute("config", text);
          }),
          "/@domains: differs from the stored config's 3 (got 2 domains)");
  refused(merge_with("count.h5", [](Hdf5Edit& e) { e.int_attribute("aggregator_count", -5); }),
          "/@aggregator_count: must be in 0 .. 24 (got -5)");
  refused(merge_with("first.h5",
                     [](Hdf5Edit& e) {
                       e.int_attribute("first_trajectory", std::numeric_limits<std::int64_t>::max());
                     }),
          "/@first_trajectory: must be in 0 .. 9223372036854775783 (got 9223372036854775807)");
  // A dataset of the wrong type ("std::get: wrong index for variant" before).
  refused(merge_with("type.h5", [](Hdf5Edit& e) {
            e.dataset("/aggregator/mean", {5, 4}, std::vector<std::int64_t>(20, 0));
          }),
          "/aggregator/mean: must be floating-point");
  refused(merge_with("nan.h5", [](Hdf5Edit& e) {
            std::vector<double> m2(20, 0.5);
            m2[7] = std::nan("");
            e.dataset("/aggregator/m2", {5, 4}, m2);
          }),
          "/aggregator/m2: value 7 must be finite and >= 0 (got nan)");
  refused(merge_with("hist.h5", [](Hdf5Edit& e) {
            e.dataset("/jump_counts/histogram", {1, 3}, std::vector<std::int64_t>{30, -6, 0});
          }),
          "/jump_counts/histogram: value 1 must be >= 0 (got -6)");
  Dataset jumps;  // of the second shard (every edited one is this shard)
  ASSERT_TRUE(read_dataset(shard("probe.h5", 24), "/jumps/channel", &jumps));
  const auto n = static_cast<hsize_t>(jumps.shape.at(0));
  ASSERT_GT(n, 0u);
  for (std::int64_t bad : {std::int64_t{-1}, std::int64_t{1000000000}}) {
    refused(merge_with("channel.h5", [&](Hdf5Edit& e) {
              std::vector<std::int64_t> c(n, 0);
              c[0] = bad;
              e.dataset("/jumps/channel", {n}, c);
            }),
            "/jumps/channel: is not a channel of the model (got " + std::to_string(bad) + ")");
  }
  refused(merge_with("time.h5", [&](Hdf5Edit& e) {
            e.dataset("/jumps/time", {n}, std::vector<double>(n, std::nan("")));
          }),
          "/jumps/time: value 0 must be finite and >= 0 (got nan)");
  refused(merge_with("traj.h5", [&](Hdf5Edit& e) {
            e.dataset("/jumps/trajectory", {n}, std::vector<std::int64_t>(n, 3));
          }),
          "/jumps/trajectory: is not a recorded trajectory of the shard (24 .. 26) (got 3)");
}

TEST_F(HostileFiles, ResumeRefusesImpossibleCheckpoints) {
  const std::string clean = checkpoint();
  const auto original = qtraj::testing::file_bytes(clean);
  read_checkpoint(clean);  // the untouched one is taken
  auto refused = [&](const std::function<void(Hdf5Edit&)>& edit, const std::string& needle) {
    qtraj::testing::write_bytes(clean, original);
    {
      Hdf5Edit e(clean);
      edit(e);
    }
    expect_refusal([&] { read_checkpoint(clean); }, clean, needle);
  };
  // Counts: the prefix of chunks 0-3 holds exactly 8 trajectories.
  refused([](Hdf5Edit& e) { e.int_attribute("aggregator_count", -74578); },
          "/@aggregator_count: must be in 8 .. 8 (got -74578)");
  refused([](Hdf5Edit& e) {
            std::vector<double> mean(5 * 4, 0.0);
            mean[2] = std::nan("");
            e.dataset("/aggregator/mean", {5, 4}, mean);
          },
          "/aggregator/mean: value 2 must be finite (got nan)");
  refused([](Hdf5Edit& e) {
            e.dataset("/checkpoint/prefix_histogram", {1, 2}, std::vector<std::int64_t>{9, -1});
          },
          "/checkpoint/prefix_histogram: value 1 must be >= 0 (got -1)");
  refused([](Hdf5Edit& e) { e.dataset("/checkpoint/pending_chunks", {2}, std::vector<std::int64_t>{200, 9}); },
          "/checkpoint/pending_chunks: pending chunks must rise strictly within 4 .. 255 (got 9)");
  Dataset jumps;
  {
    ASSERT_TRUE(read_dataset(clean, "/jumps/channel", &jumps));
  }
  const auto n = static_cast<hsize_t>(jumps.shape.at(0));
  ASSERT_GT(n, 0u);
  refused([&](Hdf5Edit& e) { e.dataset("/jumps/time", {n}, std::vector<double>(n, std::nan(""))); },
          "/jumps/time: value 0 must be finite and >= 0 (got nan)");
  for (std::int64_t bad : {std::int64_t{-1}, std::int64_t{1000000000}})
    refused([&](Hdf5Edit& e) {
              std::vector<std::int64_t> c(n, 0);
              c[n - 1] = bad;
              e.dataset("/jumps/channel", {n}, c);
            },
            "/jumps/channel: is not a channel of the model (got " + std::to_string(bad) + ")");
  // Values that pass every check but are not what was written: the checksum.
  refused([](Hdf5Edit& e) { e.dataset("/aggregator/m2", {5, 4}, std::vector<double>(20, 0.125)); },
          "/@checkpoint_checksum: does not match the checkpoint's contents");
  refused([](Hdf5Edit& e) { e.remove_attribute("checkpoint_checksum"); },
          "the checkpoint carries no checksum (written by an earlier build of qtraj");
}

// Random flipped bytes (fixed seeds) in a result, a shard and a checkpoint: each is refused with
// a qtraj error, or read with exactly the original's numbers (format 2 checksums every structure
// and every dataset), never a crash or another exception.
TEST_F(HostileFiles, FlippedBytesAreRefusedOrHarmless) {
  const std::string a = shard("a.h5", 0), b = shard("b.h5", 24), ckpt = checkpoint();
  const StoredResult clean = read_result(b);
  const auto shard_bytes = qtraj::testing::file_bytes(b);
  const auto ckpt_bytes = qtraj::testing::file_bytes(ckpt);
  int refused = 0, read = 0;
  for (unsigned seed = 1; seed <= 150; ++seed) {
    const int flips = 1 + static_cast<int>(seed % 3) * 7;
    qtraj::testing::write_bytes(b, qtraj::testing::flipped(shard_bytes, seed, flips));
    try {
      const StoredResult s = read_result(b);
      EXPECT_EQ(s.result.time, clean.result.time) << "seed " << seed;
      EXPECT_EQ(s.result.jz_over_n_mean.data, clean.result.jz_over_n_mean.data) << "seed " << seed;
      EXPECT_EQ(s.result.jz_over_n_stderr.data, clean.result.jz_over_n_stderr.data) << "seed " << seed;
      EXPECT_EQ(s.config_text, clean.config_text) << "seed " << seed;
      merge_trajectory_shards({a, b});
      ++read;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      ++refused;
    }
    qtraj::testing::write_bytes(ckpt, qtraj::testing::flipped(ckpt_bytes, seed, flips));
    try {
      read_checkpoint(ckpt);
      ++read;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 150);  // most flips land in checksummed bytes
  RecordProperty("refused", refused);
  RecordProperty("read", read);
  // Format 1 has no checksums: a damaged file may read as other numbers, but never crashes us
  // (its variable-length strings are read in a child process).
  const std::string old_a = (kFormat1 / "shard_a.h5").string(), old_b = path("old_b.h5");
  const auto old_bytes = qtraj::testing::file_bytes((kFormat1 / "shard_b.h5").string());
  for (unsigned seed = 1; seed <= 100; ++seed) {
    qtraj::testing::write_bytes(old_b, qtraj::testing::flipped(old_bytes, seed, 1 + static_cast<int>(seed % 4)));
    try {
      merge_trajectory_shards({old_a, old_b});
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace qtraj
