// MPI ranks (src/backend/mpi_trajectories.cpp) through mpirun, as users start them: R = 1, 2, 3
// ranks give the file of a plain run bit for bit (means, standard errors, raw aggregator state,
// histograms, jump records spread over all ranks), and an error on one rank ends all of them
// with one line. Needs a build with MPI (QTRAJ_BUILD_MPI); skipped otherwise.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/cli_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using qtraj::testing::run_command;

#ifdef QTRAJ_MPIEXEC
const std::string kMpirun = std::string(QTRAJ_MPIEXEC) + " --allow-run-as-root --oversubscribe -n ";
#endif

// record_jumps covers trajectories of every rank's chunks (all 5000).
const char* kRunFile =
    "[system]\ndomains = [8, 4, 2]\n[time]\nend = 3.0\npoints = 7\n"
    "[solver]\nkind = \"trajectories\"\nseed = 3\ntrajectories = 5000\nrecord_jumps = 5000\n";

class MpiRanks : public ::testing::Test {
 protected:
  fs::path dir_;
  std::string run_file_;
  void SetUp() override {
#ifndef QTRAJ_MPIEXEC
    GTEST_SKIP() << "built without MPI (QTRAJ_BUILD_MPI=OFF)";
#endif
    dir_ = fs::temp_directory_path() /
           ("qtraj_mpi_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    run_file_ = (dir_ / "run.toml").string();
    std::ofstream(run_file_) << kRunFile;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string qtraj_run(const std::string& out, const std::string& extra = "") const {
    return std::string(QTRAJ_CLI_PATH) + " run " + run_file_ + " -o " + out + " -q --threads 1 " + extra;
  }
};

TEST_F(MpiRanks, AnyNumberOfRanksGivesThePlainRunBitForBit) {
#ifdef QTRAJ_MPIEXEC
  const std::string plain = (dir_ / "plain.h5").string();
  auto r = run_command(qtraj_run(plain));
  ASSERT_EQ(r.status, 0) << r.text;
  for (int ranks : {1, 2, 3}) {
    const std::string out = (dir_ / ("ranks" + std::to_string(ranks) + ".h5")).string();
    r = run_command(kMpirun + std::to_string(ranks) + " " + qtraj_run(out));
    ASSERT_EQ(r.status, 0) << r.text;
    qtraj::testing::expect_same_trajectory_result(out, plain);
    const auto stored = qtraj::read_result(out);
    EXPECT_EQ(std::get<std::int64_t>(stored.result.attributes.at("aggregator_count")), 5000);
    if (ranks > 1) {
      EXPECT_EQ(std::get<std::int64_t>(stored.result.attributes.at("mpi_ranks")), ranks);
    }
  }
  // Only rank 0 writes: no stray temporary files of other ranks.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
#endif
}

TEST_F(MpiRanks, AnErrorOnOneRankEndsAllRanksWithOneLine) {
#ifdef QTRAJ_MPIEXEC
  // Only rank 0 checks the output path: rank 1 is fine until the ranks agree on the error.
  const std::string out = (dir_ / "missing" / "out.h5").string();
  const auto r = run_command("timeout 120 " + kMpirun + "2 " + qtraj_run(out));
  EXPECT_NE(r.status, 0) << r.text;
  EXPECT_NE(r.status, 124) << "mpirun hung: " << r.text;
  EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n') >= 1, true);
  std::size_t ours = 0, at = 0;
  while ((at = r.text.find("qtraj: error: ", at)) != std::string::npos) ++ours, ++at;
  EXPECT_EQ(ours, 1u) << r.text;
  EXPECT_NE(r.text.find("output.path"), std::string::npos) << r.text;
  EXPECT_FALSE(fs::exists(out));
#endif
}

TEST_F(MpiRanks, ResumesAOneProcessCheckpointOnTwoRanks) {
#ifdef QTRAJ_MPIEXEC
  // A one-process run stopped by SIGTERM after its first checkpoint; two ranks finish it.
  const std::string big = "--set output.checkpoint_seconds=0.05 --set solver.trajectories=60000";
  const std::string out = (dir_ / "out.h5").string(), plain = (dir_ / "plain.h5").string();
  const pid_t pid = qtraj::testing::start_command(qtraj_run(out, big), (dir_ / "log").string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(out + ".ckpt") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << "not stopped by SIGTERM";
  auto r = run_command(kMpirun + "2 " + qtraj_run(out, big + " --resume"));
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_FALSE(fs::exists(out + ".ckpt"));
  r = run_command(qtraj_run(plain, big));
  ASSERT_EQ(r.status, 0) << r.text;
  qtraj::testing::expect_same_trajectory_result(out, plain);
#endif
}

TEST_F(MpiRanks, SigtermedMpiRunResumesOnThreeRanks) {
#ifdef QTRAJ_MPIEXEC
  // mpirun forwards SIGTERM: every rank writes its checkpoint file and exits; three ranks (then
  // reading two ranks' files) finish the run to the plain run's file, bit for bit.
  // 200000 trajectories: ~0.7 s per rank on an idle machine, so the signal comes mid-run.
  const std::string big = "--set output.checkpoint_seconds=0.05 --set solver.trajectories=200000";
  const std::string out = (dir_ / "out.h5").string(), plain = (dir_ / "plain.h5").string();
  const pid_t pid = qtraj::testing::start_command(kMpirun + "2 " + qtraj_run(out, big),
                                                  (dir_ / "log").string());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(fs::exists(out + ".ckpt") && fs::exists(out + ".ckpt.rank-1")) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "the run was not interrupted";
  ASSERT_TRUE(fs::exists(out + ".ckpt.rank-1"));
  EXPECT_FALSE(fs::exists(out));
  auto r = run_command(kMpirun + "3 " + qtraj_run(out, big + " --resume"));
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_FALSE(fs::exists(out + ".ckpt"));
  EXPECT_FALSE(fs::exists(out + ".ckpt.rank-1"));
  EXPECT_FALSE(fs::exists(out + ".ckpt.rank-2"));
  r = run_command(qtraj_run(plain, big));
  ASSERT_EQ(r.status, 0) << r.text;
  qtraj::testing::expect_same_trajectory_result(out, plain);
  EXPECT_GT(std::get<std::int64_t>(qtraj::read_result(out).result.attributes.at("resumed_chunks")), 0);
#endif
}

// A build without MPI started by mpirun with several ranks would have every rank run the whole
// job and race to write one file: it refuses in one line instead (the launcher's environment is
// what it sees).
TEST(MpiWithoutMpi, SeveralRanksAreRefusedByABuildWithoutMpi) {
#ifdef QTRAJ_MPIEXEC
  GTEST_SKIP() << "this build has MPI (tested above)";
#else
  const fs::path dir = fs::temp_directory_path() / ("qtraj_nompi_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string run_file = (dir / "run.toml").string(), out = (dir / "out.h5").string();
  std::ofstream(run_file) << kRunFile;
  const auto r = run_command("OMPI_COMM_WORLD_SIZE=2 " + std::string(QTRAJ_CLI_PATH) + " run " +
                             run_file + " -o " + out);
  EXPECT_EQ(r.status, 2) << r.text;
  EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << r.text;
  EXPECT_NE(r.text.find("built without MPI"), std::string::npos) << r.text;
  EXPECT_FALSE(fs::exists(out));
  const auto one = run_command("OMPI_COMM_WORLD_SIZE=1 " + std::string(QTRAJ_CLI_PATH) + " run " +
                               run_file + " -q -o " + out);  // one rank: a plain run
  EXPECT_EQ(one.status, 0) << one.text;
  EXPECT_TRUE(fs::exists(out));
  fs::remove_all(dir);
#endif
}

}  // namespace
