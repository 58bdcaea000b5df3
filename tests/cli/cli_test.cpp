// The `qtraj` command line as users call it: exit codes, one-line errors, no partial files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/cli_helpers.hpp"
#include "qtraj/io/hdf5.hpp"
#include "scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;

using Output = qtraj::testing::CliOutput;  // status, stdout + stderr
Output run_cli_raw(const std::string& command) { return qtraj::testing::run_command(command); }

Output run_cli(const std::string& args) { return run_cli_raw(std::string(QTRAJ_CLI_PATH) + " " + args); }

class Cli : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_cli_test"};
  const fs::path dir_ = scratch_.path;
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  // A bad run file must fail with exit status != 0, one line naming `field`, and no output.
  void expect_rejected(const std::string& toml, const std::string& field,
                       const std::string& extra_args = "") {
    const std::string out = (dir_ / "out.h5").string();
    const auto r = run_cli("run " + write("bad.toml", toml) + " -o " + out + " " + extra_args);
    EXPECT_NE(r.status, 0) << r.text;
    EXPECT_NE(r.text.find(field), std::string::npos) << r.text;
    EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << "not one line: " << r.text;
    EXPECT_EQ(r.text.rfind("qtraj: error: ", 0), 0u) << r.text;
    EXPECT_FALSE(fs::exists(out));
  }
};

TEST_F(Cli, VersionAndHelp) {
  const auto v = run_cli("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.text.rfind("qtraj ", 0), 0u) << v.text;
  for (const char* sub : {"", "run ", "info ", "compare ", "demo "}) {
    const auto h = run_cli(std::string(sub) + "--help");
    EXPECT_EQ(h.status, 0) << sub;
    EXPECT_NE(h.text.find("Usage"), std::string::npos) << sub << h.text;
  }
}

TEST_F(Cli, BadRunFilesAreRejectedWithOneLine) {
  const std::string ok_tail = "[time]\nend = 1.0\npoints = 3\n";
  expect_rejected("[system]\ndomains = [4, 0]\n" + ok_tail, "system.domains[2]");
  expect_rejected("[system]\ndomains = [4, -2]\n" + ok_tail, "got -2");
  expect_rejected("[system]\ndomains = [4, 2]\nspins = 3\n" + ok_tail, "system.spins");
  expect_rejected("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 5]\n" + ok_tail,
                  "reservoir[1].domains");
  expect_rejected("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 2]\ngamma = -0.1\n" +
                      ok_tail, "reservoir[1].gamma");
  expect_rejected("[system]\ndomains = [4, 2]\n[time]\nend = \"x\"\n", "time.end");
  expect_rejected("[system\ndomains = [4, 2]\n", "malformed TOML");
  expect_rejected("[system]\ndomains = [4, 2]\n" + ok_tail, "solver.kind", "--solver magic");
  expect_rejected("[system]\ndomains = [4, 2]\n" + ok_tail, "--set", "--set nonsense");
}

TEST_F(Cli, CudaBackendWithoutAGpuIsAOneLineError) {
  // CPU-only build: "built without CUDA"; CUDA build on a machine without a GPU: "no usable CUDA
  // device". Either way one line naming the field, and no output file. (On a GPU machine the run
  // succeeds instead: that case is tested by qtraj_cuda_tests.)
  const char* has_gpu = std::getenv("QTRAJ_TEST_HAVE_GPU");
  if (has_gpu && std::string(has_gpu) == "1") GTEST_SKIP() << "a GPU is present";
  expect_rejected("[system]\ndomains = [4, 2]\n[time]\nend = 1.0\npoints = 3\n[solver]\n"
                  "kind = \"trajectories\"\ntrajectories = 10\nbackend = \"cuda\"\n",
                  "solver.backend = \"cuda\"");
}

TEST_F(Cli, ReviewedEdgeCasesFailWithOneLine) {
  const std::string ok = "[system]\ndomains = [4, 2]\n[time]\nend = 1.0\npoints = 3\n";
  // gamma * end beyond double precision for the exact solver (garbage, then a hang, before).
  expect_rejected(ok, "time.end", "--set time.end=1e40");
  // A float too large for an integer (undefined behaviour before).
  expect_rejected("[system]\ndomains = [1e30, 2]\n", "system.domains[1]");
  // Dicke-basis storage refused before allocating (4.7 GB before).
  expect_rejected("[system]\ndomains = [100000000]\n", "too many spins");
  expect_rejected("[system]\ndomains = [1000000]\ninitial = [\"product 500000\"]\n", "too many spins");
  // Doubles in messages keep their value.
  expect_rejected(ok, "(got -1e-12)", "--set solver.atol=-1e-12");
  // The explicit adaptive propagator on a very long run (hung, then wrote stale rows, before).
  const std::string traj = ok + "[solver]\nkind = \"trajectories\"\ntrajectories = 10\n";
  expect_rejected(traj, "time.end", "--set solver.propagator=adaptive --set time.end=1e6");
  // Trajectory indices must fit in 64 bits (signed overflow before).
  expect_rejected(traj, "solver.first_trajectory", "--set solver.first_trajectory=9223372036854775807");
  // A directory is not an output file; refused before solving.
  fs::create_directories(dir_ / "adir");
  const auto r = run_cli("run " + write("ok.toml", ok) + " -o " + (dir_ / "adir").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.text.find("is a directory"), std::string::npos) << r.text;
}

TEST_F(Cli, ThreadsOptionIsCheckedAsTheRunFileKeyIs) {
  // --threads is checked once, with solver.threads's limits, and named in the error.
  const std::string ok = "[system]\ndomains = [1, 1]\n[time]\nend = 1.0\npoints = 3\n";
  expect_rejected(ok, "--threads: must lie in 0..4096 (0: all cores) (got 5000)", "--threads 5000");
  expect_rejected(ok, "--threads: must lie in 0..4096 (0: all cores) (got -1)", "--threads -1");
  const std::string out = (dir_ / "ok.h5").string();
  const auto r = run_cli("run " + write("ok.toml", ok) + " -q --threads 2 -o " + out);
  EXPECT_EQ(r.status, 0) << r.text;
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(Cli, OutputPathIsTakenLiterally) {
  const std::string odd = (dir_ / "we\"ird\\name.h5").string();
  const auto r = run_cli("run " + write("ok.toml", "[system]\ndomains = [1, 1]\n[time]\nend = 1.0\npoints = 3\n") +
                         " -q -o '" + odd + "'");
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_TRUE(fs::exists(odd));
}

TEST_F(Cli, UnwritableOutputPathIsRejectedBeforeSolving) {
  const auto r = run_cli("run " + write("ok.toml", "[system]\ndomains = [1, 1]\n") +
                         " -o " + (dir_ / "no" / "such" / "dir.h5").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.text.find("output.path"), std::string::npos) << r.text;
  EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << r.text;
}

TEST_F(Cli, MissingFilesAreOneLineErrors) {
  auto r = run_cli("run " + (dir_ / "absent.toml").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.text.find("absent.toml"), std::string::npos) << r.text;
  r = run_cli("info " + (dir_ / "absent.h5").string());
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << r.text;
}

TEST_F(Cli, PaperFig2aExampleWritesTheContractLayout) {
  const std::string out = (dir_ / "fig2a.h5").string();
  const auto r = run_cli("run " QTRAJ_SOURCE_DIR "/examples/paper/fig2a.toml -q -o " + out +
                         " --set output.plot=\"\"");
  ASSERT_EQ(r.status, 0) << r.text;
  const auto s = qtraj::read_result(out);
  EXPECT_EQ(s.result.solver, "exact");
  EXPECT_EQ(s.domains, (std::vector<long long>{40, 2}));
  EXPECT_EQ(s.result.time.size(), 401u);
  EXPECT_EQ(s.result.jz_over_n_mean.cols, 2u);
  EXPECT_EQ(s.result.jz_over_n_stderr.rows, 401u);
  EXPECT_EQ(s.result.excitations_mean.rows, 401u);
  EXPECT_NE(s.config_text.find("--set output.plot"), std::string::npos) << s.config_text;
  EXPECT_NE(s.config_text.find("40"), std::string::npos) << s.config_text;
  EXPECT_FALSE(s.qtraj_version.empty());
  // Fig. 2a at the end: domain 1 almost fully de-excited, domain 2 close to fully excited.
  EXPECT_LT(s.result.jz_over_n_mean(400, 0), -0.45);
  EXPECT_GT(s.result.jz_over_n_mean(400, 1), 0.4);
  // h5dump (hdf5-tools) reads it without documentation.
  if (std::system("command -v h5dump > /dev/null 2>&1") == 0) {
    const auto d = run_cli_raw("h5dump -H " + out);
    EXPECT_EQ(d.status, 0) << d.text;
    for (const char* name : {"\"time\"", "\"jz_over_n\"", "\"mean\"", "\"stderr\"", "\"excitations\"",
                             "\"solver\"", "\"config\"", "\"qtraj_version\"", "\"domains\""})
      EXPECT_NE(d.text.find(name), std::string::npos) << name;
  }
  // `qtraj info` summarises it; `qtraj compare` of a result with itself passes.
  const auto info = run_cli("info " + out);
  EXPECT_EQ(info.status, 0) << info.text;
  EXPECT_NE(info.text.find("exact"), std::string::npos) << info.text;
  const auto cmp = run_cli("compare " + out + " " + out);
  EXPECT_EQ(cmp.status, 0) << cmp.text;
  EXPECT_NE(cmp.text.find("PASS"), std::string::npos) << cmp.text;
}

TEST_F(Cli, CompareFailsWithExitStatusOne) {
  const std::string a = (dir_ / "a.h5").string(), b = (dir_ / "b.h5").string();
  const std::string file = write("two.toml", "[system]\ndomains = [1, 1]\n[[reservoir]]\ndomains = [1, 2]\n[time]\nend = 2.0\npoints = 5\n");
  ASSERT_EQ(run_cli("run " + file + " -q -o " + a).status, 0);
  ASSERT_EQ(run_cli("run " + file + " -q -o " + b + " --set reservoir.1.gamma=2.0").status, 0);
  const auto cmp = run_cli("compare " + a + " " + b);
  EXPECT_EQ(cmp.status, 1) << cmp.text;
  EXPECT_NE(cmp.text.find("FAIL"), std::string::npos) << cmp.text;
}

TEST_F(Cli, SteadySolverWritesOneInfiniteTime) {
  // `--solver steady` on the two-spin example: /time = [inf], time_is_infinite = 1,
  // /emitted_quanta; info shows it; two steady files compare; a steady file and a time
  // evolution do not (different grids); nbar > 0 is a one-line error naming the field.
  const std::string a = (dir_ / "a.h5").string(), b = (dir_ / "b.h5").string(),
                    ev = (dir_ / "ev.h5").string();
  const std::string file = QTRAJ_SOURCE_DIR "/examples/two_spins.toml";
  ASSERT_EQ(run_cli("run " + file + " -q --solver steady -o " + a).status, 0);
  ASSERT_EQ(run_cli("run " + file + " -q --set solver.kind=steady --threads 1 -o " + b).status, 0);
  const auto s = qtraj::read_result(a);
  EXPECT_EQ(s.result.solver, "steady");
  ASSERT_EQ(s.result.time.size(), 1u);
  EXPECT_TRUE(std::isinf(s.result.time[0]) && s.result.time[0] > 0);
  EXPECT_EQ(std::get<std::int64_t>(s.result.attributes.at("time_is_infinite")), 1);
  EXPECT_NEAR(s.result.jz_over_n_mean(0, 1), -0.25, 1e-14);
  qtraj::Dataset emitted;
  ASSERT_TRUE(qtraj::read_dataset(a, "/emitted_quanta", &emitted));
  EXPECT_EQ(emitted.shape, (std::vector<std::uint64_t>{1}));
  EXPECT_NEAR(std::get<std::vector<double>>(emitted.values)[0], 0.5, 1e-14);
  const auto info = run_cli("info " + a);
  EXPECT_EQ(info.status, 0) << info.text;
  EXPECT_NE(info.text.find("t = inf (steady state)"), std::string::npos) << info.text;
  EXPECT_NE(info.text.find("-0.250000"), std::string::npos) << info.text;
  const auto cmp = run_cli("compare " + a + " " + b + " --abs-tol 1e-12");
  EXPECT_EQ(cmp.status, 0) << cmp.text;
  EXPECT_NE(cmp.text.find("PASS"), std::string::npos) << cmp.text;
  ASSERT_EQ(run_cli("run " + file + " -q -o " + ev).status, 0);
  const auto mixed = run_cli("compare " + a + " " + ev);
  EXPECT_EQ(mixed.status, 2) << mixed.text;
  EXPECT_NE(mixed.text.find("different output grids"), std::string::npos) << mixed.text;
  expect_rejected("[system]\ndomains = [2, 1]\n[[reservoir]]\ndomains = [1, 2]\nnbar = 0.5\n",
                  "reservoir[1].nbar", "--solver steady");
}

TEST_F(Cli, DemoWritesHdf5AndPlot) {
  if (std::system("/usr/bin/python3 -c 'import h5py, matplotlib' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with h5py and matplotlib is not installed (scripts/install-deps.sh)";
  const std::string h5 = (dir_ / "fig2a.h5").string(), png = (dir_ / "fig2a.png").string();
  const auto r = run_cli("demo -q -o " + h5 + " --plot " + png);
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_TRUE(fs::exists(h5));
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 10000u);
}

}  // namespace

TEST_F(Cli, AutoPropagatorFollowsMemoryLimitAndInfoShowsIt) {
  // `auto` with a solver.memory_limit below the spectral eigenvectors (~16 MB for (40,20,10)) runs
  // the Krylov propagator (whose run fits the limit: it bounds the run as well); `qtraj info` says
  // which ran.
  const std::string out = (dir_ / "k.h5").string();
  const std::string file = write("k.toml", "[system]\ndomains = [40, 20, 10]\n[time]\nend = 2.0\n"
                                           "points = 3\n[solver]\nkind = \"trajectories\"\n"
                                           "trajectories = 20\nthreads = 2\n"
                                           "memory_limit = \"4 MB\"\n");
  const auto ran = run_cli("run " + file + " -q -o " + out);
  ASSERT_EQ(ran.status, 0) << ran.text;
  auto info = run_cli("info " + out);
  EXPECT_EQ(info.status, 0) << info.text;
  EXPECT_NE(info.text.find("propagator    krylov"), std::string::npos) << info.text;
  ASSERT_EQ(run_cli("run " + file + " -q -o " + out + " --set 'solver.memory_limit=\"1 GiB\"'").status, 0);
  info = run_cli("info " + out);
  EXPECT_NE(info.text.find("propagator    spectral"), std::string::npos) << info.text;
  expect_rejected("[system]\ndomains = [4, 2]\n[solver]\nkind = \"trajectories\"\nmemory_limit = -3\n",
                  "solver.memory_limit");
  expect_rejected("[system]\ndomains = [4, 2]\n[solver]\nkind = \"trajectories\"\n"
                  "memory_limit = \"3 furlongs\"\n", "solver.memory_limit");
}
