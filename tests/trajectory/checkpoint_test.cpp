// Checkpoint and resume, in process: the Tally folds chunks in chunk order whatever order they
// finish in; a checkpoint of some finished chunks, resumed, gives the uninterrupted run's result
// bit for bit; checkpoints of another run are refused in one line. (The CLI tests kill real runs:
// tests/cli/resume_test.cpp.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <random>

#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;
using backend::kNumChunks;

const char* kRun =
    "[system]\ndomains = [6, 3, 1]\n[time]\nend = 3.0\npoints = 7\n"
    "[solver]\nkind = \"trajectories\"\nseed = 5\ntrajectories = 3001\nrecord_jumps = 700\n"
    "threads = 2\n[output]\ncheckpoint_seconds = 0\n";

class Checkpoint : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_ckpt_test"};
  const fs::path dir_ = scratch_.path;
  RunConfig config(std::vector<std::string> sets = {}) {
    sets.push_back("output.path=\"" + (dir_ / "out.h5").string() + "\"");
    return parse_run_config(kRun, sets);
  }
  // Runs only `chunks` of the run and writes their checkpoint, as an interrupted run would.
  backend::TallyState partial(const RunConfig& c, std::vector<std::int64_t> chunks, int rank = 0) {
    backend::TrajectoryRun run(c.model, c.solver, c.time);
    backend::Tally tally(run);
    run.chunks = std::move(chunks);
    backend::run_trajectories_cpu(run, tally, {});
    backend::TallyState s = tally.snapshot();
    backend::write_checkpoint(checkpoint_path(c.output.path, rank), run, c, s);
    return s;
  }
};

void expect_identical(const Result& a, const Result& b) {
  EXPECT_EQ(a.jz_over_n_mean.data, b.jz_over_n_mean.data);
  EXPECT_EQ(a.jz_over_n_stderr.data, b.jz_over_n_stderr.data);
  EXPECT_EQ(a.excitations_mean.data, b.excitations_mean.data);
  ASSERT_EQ(a.extra.size(), b.extra.size());
  for (std::size_t d = 0; d < a.extra.size(); ++d) {
    EXPECT_EQ(a.extra[d].path, b.extra[d].path);
    EXPECT_EQ(a.extra[d].shape, b.extra[d].shape) << a.extra[d].path;
    EXPECT_TRUE(a.extra[d].values == b.extra[d].values) << a.extra[d].path;
  }
  EXPECT_EQ(std::get<std::int64_t>(a.attributes.at("aggregator_count")),
            std::get<std::int64_t>(b.attributes.at("aggregator_count")));
}

TEST_F(Checkpoint, TallyFoldsInChunkOrderWhateverOrderChunksFinish) {
  const RunConfig c = config();
  backend::TrajectoryRun run(c.model, c.solver, c.time);
  // Chunk states with distinct, awkward values: any change of merge order changes the bits.
  std::vector<trajectory::Aggregator> chunks;
  std::mt19937_64 gen(3);
  std::normal_distribution<double> x(0.3, 1.7);
  std::vector<double> v(static_cast<std::size_t>(run.n_t) * run.row);
  for (std::int64_t k = 0; k < kNumChunks; ++k) {
    trajectory::Aggregator a(v.size());
    for (int s = 0; s < 1 + k % 5; ++s) {
      for (auto& e : v) e = x(gen);
      a.add(v.data());
    }
    chunks.push_back(a);
  }
  trajectory::Aggregator sequential(v.size());
  for (const auto& a : chunks) sequential.merge(a);
  std::vector<std::int64_t> order(kNumChunks);
  for (std::int64_t k = 0; k < kNumChunks; ++k) order[k] = k;
  std::shuffle(order.begin(), order.end(), gen);
  backend::Tally tally(run);
  const backend::Histogram one_each(run.num_reservoirs, std::vector<std::int64_t>{0, 1});
  for (std::int64_t k : order) {
    tally.chunk_done(k, trajectory::Aggregator(chunks[k]), one_each);
    if (k == order[100]) {  // a snapshot mid-way survives the byte round trip
      const auto s = tally.snapshot();
      const auto back = backend::TallyState::deserialize(s.serialize());
      EXPECT_EQ(back.done_chunks(), s.done_chunks());
      EXPECT_EQ(back.all.means(), s.all.means());
      EXPECT_EQ(back.histogram, s.histogram);
    }
  }
  ASSERT_TRUE(tally.complete());
  EXPECT_EQ(tally.all.count(), sequential.count());
  EXPECT_EQ(tally.all.means(), sequential.means());
  EXPECT_EQ(tally.all.m2(), sequential.m2());
  for (const auto& h : tally.histogram) EXPECT_EQ(h, (std::vector<std::int64_t>{0, kNumChunks}));
  EXPECT_THROW(tally.chunk_done(7, trajectory::Aggregator(chunks[7]), one_each), Error);
}

TEST_F(Checkpoint, SegmentsEnterTheTallyTogether) {
  // The CUDA backend's segments: several chunks with one histogram, all or none in a snapshot,
  // the histogram kept on the first chunk through a checkpoint file and back.
  RunConfig c = config();
  backend::TrajectoryRun run(c.model, c.solver, c.time);
  backend::Tally tally(run);
  const std::size_t n = static_cast<std::size_t>(run.n_t) * run.row;
  std::vector<double> v(n, 0.25);
  trajectory::Aggregator a(n), b(n);
  a.add(v.data());
  b.add(v.data());
  b.add(v.data());
  const backend::Histogram h(run.num_reservoirs, std::vector<std::int64_t>{1, 2});
  tally.chunks_done({{3, a}, {4, b}}, h);
  const backend::TallyState s = tally.snapshot();
  EXPECT_EQ(s.done_chunks(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(s.pending.at(3).histogram, h);
  EXPECT_EQ(s.total_histogram(), h);
  EXPECT_THROW(tally.chunks_done({{5, a}, {4, b}}, h), Error);  // 4 twice: nothing taken
  EXPECT_EQ(tally.snapshot().done_chunks(), (std::vector<std::int64_t>{3, 4}));
  const std::string path = checkpoint_path(c.output.path);
  backend::write_checkpoint(path, run, c, s);
  backend::Tally back(run);
  back.absorb(backend::read_checkpoint(path, run, c));
  back.absorb(backend::read_checkpoint(path, run, c), /*skip_known=*/true);  // same file twice
  const backend::TallyState r = back.snapshot();
  EXPECT_EQ(r.done_chunks(), s.done_chunks());
  EXPECT_EQ(r.total_histogram(), h);
  EXPECT_EQ(r.pending.at(4).all.count(), 2);
  EXPECT_EQ(r.pending.at(4).all.means(), b.means());
}

TEST_F(Checkpoint, ResumeIsBitIdenticalToAnUninterruptedRun) {
  const Result whole = solve_trajectories(config());
  // A prefix plus stragglers beyond it (what several threads leave behind), and an empty one.
  for (const auto& done : std::vector<std::vector<std::int64_t>>{
           {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 40, 41, 200}, {17, 255}, {}}) {
    RunConfig c = config();
    const backend::TallyState s = partial(c, done);
    EXPECT_EQ(s.done_chunks(), done);
    c.output.resume = true;
    const Result resumed = solve_trajectories(c);
    expect_identical(resumed, whole);
    EXPECT_EQ(std::get<std::int64_t>(resumed.attributes.at("resumed_chunks")),
              static_cast<std::int64_t>(done.size()));
    EXPECT_EQ(std::get<std::int64_t>(resumed.attributes.at("aggregator_count")), 3001);
    fs::remove(checkpoint_path(c.output.path));
  }
}

TEST_F(Checkpoint, OverlappingRankCheckpointsCountEveryChunkOnce) {
  // Rank files of an MPI run, plus a stale one that repeats chunks of the others (left by an
  // earlier resume): each chunk, its histogram and its jump records are taken once.
  const Result whole = solve_trajectories(config());
  RunConfig c = config();
  partial(c, {0, 1, 2, 3, 60, 61});
  partial(c, {61, 62, 63, 64, 120}, 1);
  partial(c, {2, 3, 120, 121, 255}, 2);
  EXPECT_EQ(existing_checkpoints(c.output.path).size(), 3u);
  c.output.resume = true;
  const Result resumed = solve_trajectories(c);
  expect_identical(resumed, whole);
  EXPECT_EQ(std::get<std::int64_t>(resumed.attributes.at("resumed_chunks")), 12);
  EXPECT_EQ(std::get<std::int64_t>(resumed.attributes.at("aggregator_count")), 3001);
  remove_checkpoints(c.output.path);
  EXPECT_TRUE(existing_checkpoints(c.output.path).empty());
}

TEST_F(Checkpoint, ForeignCheckpointsAreRefusedInOneLine) {
  const RunConfig c = config();
  partial(c, {0, 1, 2});
  auto refused = [&](std::vector<std::string> sets, const std::string& needle) {
    RunConfig other = config(std::move(sets));
    other.output.resume = true;
    try {
      solve_trajectories(other);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_EQ(e.field(), "--resume");
    }
  };
  refused({"solver.seed=6"}, "seed 5, this run seed 6");
  refused({"time.points=8"}, "different run file");
  refused({"system.domains=[6, 3, 2]"}, "different run file");
  // Not resuming: an existing checkpoint is not overwritten silently.
  RunConfig fresh = config({"output.checkpoint_seconds=100"});
  EXPECT_THROW(solve_trajectories(fresh), InputError);
  // No checkpoint at all.
  fs::remove(checkpoint_path(c.output.path));
  refused({}, "no checkpoint to resume from");
}

TEST_F(Checkpoint, StopRequestWritesACheckpointThatResumes) {
  // A stop request made before the run (as the CLI's SIGTERM handler makes it): the backend
  // starts no trajectory, the solver writes a checkpoint of what was done (nothing) and throws
  // Interrupted with exit code 128 + SIGTERM.
  RunConfig c = config({"output.checkpoint_seconds=100"});
  StopRequest stop;
  stop.request(SIGTERM);
  SolveContext context;
  context.stop = &stop;
  try {
    solve_trajectories(c, context);
    ADD_FAILURE() << "not interrupted";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.exit_code(), 128 + SIGTERM);
    EXPECT_NE(std::string(e.what()).find("interrupted by SIGTERM: 0 of 256 chunks saved"),
              std::string::npos)
        << e.what();
  }
  ASSERT_TRUE(fs::exists(checkpoint_path(c.output.path)));
  c.output.resume = true;
  expect_identical(solve_trajectories(c), solve_trajectories(config()));
}

}  // namespace
}  // namespace qtraj
