// The command line against hostile input: values CLI11 lets through, strings with control
// characters, stray files beside the output, unwritable or failing plots, runs beyond the bounds,
// and signals (every solver stops within a second or at the end of its indivisible step; a signal
// during the final write leaves nothing behind). Each test makes its own files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "cli/cli_helpers.hpp"
#include "scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using qtraj::testing::run_command;

const std::string kCli = QTRAJ_CLI_PATH;
const std::string kSmall = "[system]\ndomains = [1, 1]\n[time]\nend = 1.0\npoints = 3\n";

class HostileInput : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_hostile_input_test"};
  const fs::path dir_ = scratch_.path;
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string out(const std::string& name = "out.h5") const { return (dir_ / name).string(); }
  // One line "qtraj: error: ..." containing `needle`, exit status 2.
  static void expect_one_line_error(const qtraj::testing::CliOutput& r, const std::string& needle) {
    EXPECT_EQ(r.status, 2) << r.text;
    EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << "not one line: " << r.text;
    EXPECT_EQ(r.text.rfind("qtraj: error: ", 0), 0u) << r.text;
    EXPECT_NE(r.text.find(needle), std::string::npos) << r.text;
  }
  bool any_temporary() const {
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
    return false;
  }
  std::string log_text() const {
    std::ifstream log(dir_ / "log");
    return std::string((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  }
};

TEST_F(HostileInput, EmptyAndNonFiniteCliValuesAreRefused) {
  const std::string file = write("ok.toml", kSmall);
  expect_one_line_error(run_command(kCli + " run " + file + " -q --solver ''"), "--solver: ");
  expect_one_line_error(run_command(kCli + " run " + file + " -q -o ''"), "-o: must not be empty");
  expect_one_line_error(run_command(kCli + " run " + file + " -q --set 'output.path=\"\"'"),
                        "output.path");
  expect_one_line_error(run_command(kCli + " run " + file + " -q --threads -5"), "--threads");
  ASSERT_EQ(run_command(kCli + " run " + file + " -q -o " + out()).status, 0);
  for (const char* bad : {"nan", "inf", "0"})
    expect_one_line_error(run_command(kCli + " compare " + out() + " " + out() + " --threshold " + bad),
                          "--threshold");
  expect_one_line_error(run_command(kCli + " compare " + out() + " " + out() + " --abs-tol nan"),
                        "--abs-tol");
  expect_one_line_error(run_command(kCli + " merge " + out() + " -o ''"), "-o");
}

TEST_F(HostileInput, ControlCharactersAreEscapedOnOneLine) {
  // A newline inside a run-file string gave a two-line error.
  const auto r = run_command(kCli + " run " + write("ok.toml", kSmall) + " -q -o " + out() +
                             " --set 'system.initial=[\"excited\\nfoo\\u0007\", \"ground\"]'");
  expect_one_line_error(r, "excited\\nfoo\\x07");
  EXPECT_FALSE(fs::exists(out()));
}

TEST_F(HostileInput, StrayFilesBesideTheOutputNeverBreakARun) {
  // "stol" before: a rank number beyond 64 bits beside the output failed every run.
  const std::string traj = kSmall + "[solver]\nkind = \"trajectories\"\ntrajectories = 20\n";
  for (const char* stray : {"out.h5.ckpt.rank-99999999999999999999", "out.h5.ckpt.rank-007",
                            "out.h5.ckpt.rank-", "out.h5.tmp-nohost-99999999999999999999"})
    write(stray, "not ours");
  fs::create_directories(dir_ / "out.h5.ckpt.rank-3");  // a directory with a rank's name
  const auto r = run_command(kCli + " run " + write("t.toml", traj) + " -q -o " + out());
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_TRUE(fs::exists(out()));
  EXPECT_TRUE(fs::exists(dir_ / "out.h5.ckpt.rank-99999999999999999999")) << "not ours to remove";
  EXPECT_TRUE(fs::exists(dir_ / "out.h5.ckpt.rank-007"));
}

TEST_F(HostileInput, UnwritablePlotPathIsRefusedBeforeTheRun) {
  // Found only after the whole run before, as a 27-line Python traceback.
  const auto r = run_command(kCli + " run " + write("ok.toml", kSmall) + " -q -o " + out() +
                             " --plot " + (dir_ / "no" / "such" / "plot.png").string());
  expect_one_line_error(r, "output.plot");
  EXPECT_FALSE(fs::exists(out())) << "the run went ahead";
  fs::create_directories(dir_ / "adir.png");
  expect_one_line_error(run_command(kCli + " run " + write("ok.toml", kSmall) + " -q -o " + out() +
                                    " --plot " + (dir_ / "adir.png").string()),
                        "is a directory");
}

TEST_F(HostileInput, PlottingFailureIsOneLine) {
  const std::string script = write("boom.py",
                                   "import sys\n\ndef inner():\n    raise RuntimeError('boom: no "
                                   "plot today')\n\ndef outer():\n    inner()\n\nouter()\n");
  const auto r = run_command("QTRAJ_PLOT_SCRIPT=" + script + " " + kCli + " run " +
                             write("ok.toml", kSmall) + " -q -o " + out() + " --plot " +
                             out("plot.png"));
  expect_one_line_error(r, "RuntimeError: boom: no plot today");
  EXPECT_NE(r.text.find("is complete"), std::string::npos) << r.text;
  EXPECT_TRUE(fs::exists(out())) << "the HDF5 result comes before the plot";
}

TEST_F(HostileInput, RunsBeyondTheBoundsAreRefusedBeforeStarting) {
  // Each ran without end, wrote NaN or ran out of memory before.
  struct Case {
    std::string toml, sets, needle;
  };
  const std::string one = "[system]\ndomains = [1]\ninitial = [\"excited\"]\n";
  const std::string huge = one + "[[reservoir]]\ndomains = [1]\ngamma = 1e300\nnbar = 1e300\n";
  const std::string warm = one + "[[reservoir]]\ndomains = [1]\nnbar = 1.0\n";
  const std::vector<Case> cases = {
      {huge, "--solver trajectories", "reservoir[1].nbar: "},
      {huge, "--solver meanfield", "reservoir[1].nbar: "},
      {warm, "--set time.end=1e9 --solver trajectories", "time.end: "},
      {one + "[[reservoir]]\ndomains = [1]\n", "--set time.end=1e15 --solver meanfield", "time.end: "},
      {one, "--set time.points=100000000 --solver trajectories", "time.points: "},
      {one, "--set time.points=100000000 --solver meanfield", "time.points: "},
      {one, "--set 'system.domains=[49999999]' --solver trajectories --set solver.trajectories=1 "
            "--set 'solver.memory_limit=\"1 GB\"'",
       "solver.memory_limit = 1 GB"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.sets);
    const auto start = Clock::now();
    const auto r =
        run_command(kCli + " run " + write("case.toml", c.toml) + " -q -o " + out() + " " + c.sets);
    expect_one_line_error(r, c.needle);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
    EXPECT_FALSE(fs::exists(out()));
  }
}

// Starts a run, sends SIGTERM after `delay`, and expects the exit 128 + SIGTERM within
// `within` seconds of the signal, with "interrupted by SIGTERM" on one line, and no output.
void expect_prompt_stop(HostileInput& t, const std::string& args, const std::string& out,
                        const std::string& log, double delay, double within) {
  const pid_t pid = qtraj::testing::start_command(kCli + " run " + args + " -q -o " + out, log);
  std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the run ended before the signal";
  ::kill(pid, SIGTERM);
  const auto sent = Clock::now();
  ::waitpid(pid, &status, 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - sent).count();
  EXPECT_LT(seconds, within) << args;
  ASSERT_TRUE(WIFEXITED(status)) << args;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << args;
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("interrupted by SIGTERM"), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(out)) << args;
  (void)t;
}

TEST_F(HostileInput, OneLongTrajectoryStopsWithinASecond) {
  // One thermal trajectory of ~1e7 jumps (nbar = 1, time.end = 2e7: within the bounds): the stop
  // request was read only between trajectories, so SIGTERM waited for the whole trajectory.
  const std::string file = write("long.toml",
                                 "[system]\ndomains = [1]\ninitial = [\"excited\"]\n"
                                 "[[reservoir]]\ndomains = [1]\nnbar = 1.0\n[time]\nend = 2e7\n"
                                 "[solver]\nkind = \"trajectories\"\ntrajectories = 1\n"
                                 "[output]\ncheckpoint_seconds = 0\n");
  expect_prompt_stop(*this, file, out(), (dir_ / "log").string(), 1.0, 1.0);
  // The same with the sector-batched engine.
  expect_prompt_stop(*this, file + " --set 'solver.batch_sectors=\"on\"'", out(),
                     (dir_ / "log").string(), 1.0, 1.0);
  // One trajectory with local processes (~1 jump per unit time to t = 2e7): the local loop read
  // the request only between trajectories too.
  const std::string local = write("local.toml",
                                  "[system]\ndomains = [1]\ninitial = [\"excited\"]\n"
                                  "[[local]]\nemission = 1.0\npumping = 1.0\n[time]\nend = 2e7\n"
                                  "[solver]\nkind = \"trajectories\"\ntrajectories = 1\n"
                                  "[output]\ncheckpoint_seconds = 0\n");
  expect_prompt_stop(*this, local, out(), (dir_ / "log").string(), 1.0, 1.0);
}

TEST_F(HostileInput, TrajectorySetUpStopsWithinItsEigendecomposition) {
  // An explicit spectral run whose set-up (151 sectors' eigendecompositions, the largest 451 x 451,
  // 0.2 s under load) takes 26 s at load ~8: the stop request was read only before
  // the first trajectory, after the whole set-up.
  const std::string file = write("setup.toml",
                                 "[system]\ndomains = [100, 40, 10]\n[time]\nend = 0.001\n"
                                 "points = 2\n[solver]\nkind = \"trajectories\"\n"
                                 "propagator = \"spectral\"\ntrajectories = 1\nthreads = 1\n"
                                 "[output]\ncheckpoint_seconds = 0\n");
  expect_prompt_stop(*this, file, out(), (dir_ / "log").string(), 1.5, 2.0);
}

TEST_F(HostileInput, MeanFieldStopsWithinASecond) {
  // 60 domains (3660 unknowns, sparse LU, ~0.1 s a step) on a 3-point grid: the mean field
  // stopped only at output rows before, i.e. at the end of the run (~35 s).
  std::string domains = "[1000";
  for (int i = 1; i < 60; ++i) domains += ", 1000";
  const std::string file = write("mf.toml", "[system]\ndomains = " + domains + "]\n[time]\n"
                                            "end = 10.0\npoints = 3\n[solver]\nkind = "
                                            "\"meanfield\"\nclosure = \"z_right\"\n");
  expect_prompt_stop(*this, file, out(), (dir_ / "log").string(), 1.0, 1.0);
}

TEST_F(HostileInput, ExactSolverStopsWithinItsStep) {
  // The Laplace steps polled only between output times (45 s after SIGTERM for (60,30,10) on a
  // loaded machine); now each resolvent and each sector of the set-up. (40,20,10): a resolvent
  // is ~0.1 s.
  const std::string file = write("ex.toml",
                                 "[system]\ndomains = [40, 20, 10]\n"
                                 "initial = [\"excited\", \"ground\", \"ground\"]\n[time]\n"
                                 "end = 10.0\npoints = 11\n[solver]\nkind = \"exact\"\nthreads = 1\n");
  expect_prompt_stop(*this, file, out(), (dir_ / "log").string(), 1.5, 2.0);
}

TEST_F(HostileInput, SignalDuringTheFinalWriteLeavesNothing) {
  // The exact solver's HDF5 write of a large result (2e5 output times, ~30 MB): SIGTERM while
  // the temporary exists. It left an unreadable out.h5.tmp-HOST-PID (4-85 MB) before.
  const std::string file = write("w.toml", "[system]\ndomains = [1, 1]\n[time]\nend = 10.0\n"
                                           "points = 200000\n[solver]\nkind = \"exact\"\n"
                                           "integrator = \"esdirk\"\n");
  const pid_t pid =
      qtraj::testing::start_command(kCli + " run " + file + " -q -o " + out(), (dir_ / "log").string());
  bool seen = false;
  int status = 0;
  const auto start = Clock::now();
  while (!seen && Clock::now() - start < std::chrono::seconds(120)) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    // The temporary for 2 ms: the write (check_output_writable's probe of the same name lives
    // for microseconds).
    if (any_temporary()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      seen = any_temporary();
    }
    if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_TRUE(seen) << "never saw the temporary: " << log_text();
  ::kill(pid, SIGTERM);
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << log_text();
  EXPECT_FALSE(any_temporary()) << "the temporary was left behind";
  EXPECT_FALSE(fs::exists(out())) << "the signal came after the rename";
}

}  // namespace
