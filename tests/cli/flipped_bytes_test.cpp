// `qtraj info`, `compare`, `merge` and `run --resume` on real files with random flipped bytes
// (fixed seeds): each exits with a status, never a signal, and a refusal is one line (the
// in-process cases, many more of them: tests/trajectory/hostile_files_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_helpers.hpp"
#include "hdf5_tamper.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "scratch_dir.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;
using qtraj::testing::run_command;

class FlippedBytes : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_flipped_cli"};
  std::string path(const std::string& name) const { return (scratch_.path / name).string(); }
  std::string cli(const std::string& args) const { return std::string(QTRAJ_CLI_PATH) + " " + args; }
};

// Exit status and output of one command on a damaged file.
void expect_clean_exit(const qtraj::testing::CliOutput& out, const std::string& what) {
  ASSERT_NE(out.status, -1) << what << " ended by a signal:\n" << out.text;
  if (out.status == 2) {
    EXPECT_EQ(out.text.rfind("qtraj: error: ", 0), 0u) << what << ":\n" << out.text;
    EXPECT_EQ(out.text.find('\n'), out.text.size() - 1) << what << ": not one line:\n" << out.text;
  } else {
    EXPECT_TRUE(out.status == 0 || out.status == 1) << what << ": exit " << out.status << "\n" << out.text;
  }
}

TEST_F(FlippedBytes, InfoCompareMergeAndResumeExitWithOneLine) {
  const std::string run_file = path("run.toml");
  std::ofstream(run_file) << "[system]\ndomains = [2, 1]\n[time]\nend = 2.0\npoints = 5\n"
                             "[solver]\nkind = \"trajectories\"\ntrajectories = 512\nseed = 3\n"
                             "record_jumps = 40\nthreads = 1\n[output]\npath = \""
                          << path("out.h5") << "\"\ncheckpoint_seconds = 0\n";
  const std::string a = path("a.h5"), b = path("b.h5");
  ASSERT_EQ(run_command(cli("run " + run_file + " -q -o " + a)).status, 0);
  ASSERT_EQ(run_command(cli("run " + run_file + " -q -o " + b + " --set solver.first_trajectory=512")).status, 0);
  // The checkpoint an interrupted run of run.toml leaves (chunks 0-3, 9, 200).
  const RunConfig config = load_run_config(run_file);
  {
    backend::TrajectoryRun run(config.model, config.solver, config.time);
    backend::Tally tally(run);
    run.chunks = {0, 1, 2, 3, 9, 200};
    backend::run_trajectories_cpu(run, tally, {});
    backend::write_checkpoint(checkpoint_path(config.output.path), run, config, tally.snapshot());
  }
  const std::string ckpt = checkpoint_path(config.output.path);
  const auto result_bytes = qtraj::testing::file_bytes(a);
  const auto ckpt_bytes = qtraj::testing::file_bytes(ckpt);
  const std::string damaged = path("damaged.h5");
  int refusals = 0;
  for (unsigned seed = 1; seed <= 25; ++seed) {
    const int flips = 1 + static_cast<int>(seed % 4) * 3;
    qtraj::testing::write_bytes(damaged, qtraj::testing::flipped(result_bytes, seed, flips));
    for (const std::string& args : {"info " + damaged, "compare " + damaged + " " + b,
                                    "merge " + damaged + " " + b + " -o " + path("m.h5")}) {
      const auto out = run_command(cli(args));
      expect_clean_exit(out, args + " (seed " + std::to_string(seed) + ")");
      refusals += out.status == 2;
    }
    qtraj::testing::write_bytes(ckpt, qtraj::testing::flipped(ckpt_bytes, seed, flips));
    const auto out = run_command(cli("run " + run_file + " --resume -q"));
    expect_clean_exit(out, "run --resume (seed " + std::to_string(seed) + ")");
    refusals += out.status == 2;
    fs::remove(config.output.path);
  }
  EXPECT_GT(refusals, 50);
}

}  // namespace
}  // namespace qtraj
