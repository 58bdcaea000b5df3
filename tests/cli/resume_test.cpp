// Checkpoint and resume through the command line, as a user's job sees it: a run killed with
// SIGKILL after its first checkpoint, or stopped by SIGTERM, continues with --resume to the result
// of an uninterrupted run, bit for bit, with every trajectory counted once.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/cli_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using qtraj::testing::run_command;

// ~1 s of trajectories on one thread (idle machine); a checkpoint every 0.05 s.
const char* kRunFile =
    "[system]\ndomains = [12, 6, 2]\n[time]\nend = 4.0\npoints = 9\n"
    "[solver]\nkind = \"trajectories\"\nseed = 11\ntrajectories = 80000\nrecord_jumps = 300\n"
    "[output]\ncheckpoint_seconds = 0.05\n";

class Resume : public ::testing::Test {
 protected:
  fs::path dir_;
  std::string run_file_, out_, ckpt_;
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qtraj_resume_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    run_file_ = (dir_ / "run.toml").string();
    std::ofstream(run_file_) << kRunFile;
    out_ = (dir_ / "out.h5").string();
    ckpt_ = out_ + ".ckpt";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string command(const std::string& extra = "") const {
    return std::string(QTRAJ_CLI_PATH) + " run " + run_file_ + " -o " + out_ + " --threads 1 " + extra;
  }
  // Starts the run and waits for its first checkpoint; returns the pid.
  pid_t start_and_wait_for_checkpoint() {
    const pid_t pid = qtraj::testing::start_command(command(), (dir_ / "log").string());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(ckpt_) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(fs::exists(ckpt_)) << "no checkpoint within 60 s";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a later one, with chunks
    return pid;
  }
  // An uninterrupted run of the same file (another output path).
  std::string reference() {
    const std::string ref = (dir_ / "ref.h5").string();
    const auto r = run_command(std::string(QTRAJ_CLI_PATH) + " run " + run_file_ + " -o " + ref +
                               " -q --threads 2");
    EXPECT_EQ(r.status, 0) << r.text;
    return ref;
  }
  void resume_and_compare() {
    ASSERT_TRUE(fs::exists(ckpt_));
    EXPECT_FALSE(fs::exists(out_)) << "an interrupted run wrote its output";
    const auto r = run_command(command("--resume"));
    ASSERT_EQ(r.status, 0) << r.text;
    EXPECT_NE(r.text.find("resumed from " + ckpt_), std::string::npos) << r.text;
    EXPECT_FALSE(fs::exists(ckpt_)) << "the checkpoint outlived the finished run";
    qtraj::testing::expect_same_trajectory_result(out_, reference());
    const auto stored = qtraj::read_result(out_);
    EXPECT_EQ(std::get<std::int64_t>(stored.result.attributes.at("aggregator_count")), 80000);
    EXPECT_GT(std::get<std::int64_t>(stored.result.attributes.at("resumed_chunks")), 0);
  }
};

TEST_F(Resume, KilledRunResumesToTheUninterruptedResult) {
  const pid_t pid = start_and_wait_for_checkpoint();
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the run ended before the kill";
  resume_and_compare();
}

TEST_F(Resume, SigtermWritesACheckpointAndExitsCleanly) {
  const pid_t pid = start_and_wait_for_checkpoint();
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "not a clean exit";
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  std::ifstream log(dir_ / "log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("interrupted by SIGTERM"), std::string::npos) << text;
  EXPECT_NE(text.find("--resume"), std::string::npos) << text;
  resume_and_compare();
}

TEST_F(Resume, ResumeOfAnotherRunFileIsAOneLineError) {
  const pid_t pid = start_and_wait_for_checkpoint();
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto r = run_command(command("--resume --set solver.seed=12"));
  EXPECT_EQ(r.status, 2) << r.text;
  EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << r.text;
  EXPECT_NE(r.text.find("--resume"), std::string::npos) << r.text;
  const auto fresh = run_command(command());  // without --resume: the checkpoint is kept
  EXPECT_EQ(fresh.status, 2) << fresh.text;
  EXPECT_NE(fresh.text.find("--resume"), std::string::npos) << fresh.text;
  EXPECT_TRUE(fs::exists(ckpt_));
}

}  // namespace
