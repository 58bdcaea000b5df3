// The bounds of a run (include/qtraj/bounds/run_bounds.hpp): every run file the project ships
// passes them; the runs that ran forever, ran out of memory or wrote NaN are refused in one line
// naming the key to change, before anything runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "qtraj/bounds/run_bounds.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "exact/local_system.hpp"

namespace {

namespace fs = std::filesystem;
using qtraj::bounds::check_run_bounds;
using qtraj::bounds::estimate_run;

const std::string kSource = QTRAJ_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

qtraj::RunConfig load(const std::string& relative, const std::vector<std::string>& sets = {}) {
  return qtraj::load_run_config(kSource + "/" + relative, sets);
}

// The message of the InputError that check_run_bounds throws ("" if it passes).
std::string refusal(const qtraj::RunConfig& config) {
  try {
    check_run_bounds(config);
  } catch (const qtraj::InputError& e) {
    return e.what();
  }
  return "";
}

void expect_refused(const qtraj::RunConfig& config, const std::string& field,
                    const std::string& needle) {
  const std::string what = refusal(config);
  ASSERT_FALSE(what.empty()) << "not refused: " << field;
  EXPECT_EQ(what.rfind(field + ":", 0), 0u) << what;
  EXPECT_NE(what.find(needle), std::string::npos) << what;
  EXPECT_EQ(what.find('\n'), std::string::npos) << what;
}

const std::string kOneSpin = "[system]\ndomains = [1]\ninitial = [\"excited\"]\n";
// One spin with a reservoir of its own (one domain has no default chain: no channel at all).
const std::string kOneDecaying = kOneSpin + "[[reservoir]]\ndomains = [1]\n";

TEST(RunBounds, EveryShippedRunFilePasses) {
  std::vector<std::string> files;
  for (const auto& dir : {"examples", "examples/paper", "examples/local"})
    for (const auto& entry : fs::directory_iterator(kSource + "/" + dir))
      if (entry.path().extension() == ".toml")
        files.push_back(fs::relative(entry.path(), kSource).string());
  ASSERT_GE(files.size(), 12u);
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const auto config = load(f);
    EXPECT_EQ(refusal(config), "");
    // And as every other solver where the file is a Dicke-basis model small enough for it.
  }
  // The embedded default (qtraj demo).
  EXPECT_EQ(refusal(load("examples/paper/fig2a.toml")), "");
}

TEST(RunBounds, EveryReadmeRunFileAndCommandPasses) {
  const std::string readme = slurp(kSource + "/README.md");
  // Every ```toml block is a run file.
  const std::regex block("```toml\n([\\s\\S]*?)```");
  int blocks = 0;
  for (std::sregex_iterator it(readme.begin(), readme.end(), block), end; it != end; ++it, ++blocks)
    EXPECT_EQ(refusal(qtraj::parse_run_config((*it)[1].str())), "") << (*it)[1].str();
  EXPECT_GE(blocks, 1);
  // Every `qtraj run examples/... --set k=v` line, its --set options applied; my.toml stands for
  // any run file: the paper's Fig. 3a.
  const std::regex line("qtraj run (\\S+\\.toml)([^\n#]*)");
  int lines = 0;
  for (std::sregex_iterator it(readme.begin(), readme.end(), line), end; it != end; ++it) {
    std::string file = (*it)[1].str();
    if (!fs::exists(kSource + "/" + file)) file = "examples/paper/fig3a.toml";
    std::vector<std::string> sets;
    std::istringstream words((*it)[2].str());
    std::string word, solver;
    while (words >> word) {
      std::string value;
      if (word == "--set" && words >> value) sets.push_back(value);
      if (word == "--solver" && words >> value) sets.push_back("solver.kind=" + value);
    }
    SCOPED_TRACE((*it)[0].str());
    EXPECT_EQ(refusal(load(file, sets)), "");
    ++lines;
  }
  EXPECT_GE(lines, 3);
}

TEST(RunBounds, EveryPaperScriptRunPasses) {
  // scripts/paper.sh's runs beyond the plain files: the exact solver on the trajectory grids, the
  // product readings of Fig. 4, Eq. 5's sweep at its extremes, the quick settings.
  const std::string script = slurp(kSource + "/scripts/paper.sh");
  ASSERT_NE(script.find("fig4b-product"), std::string::npos);
  ASSERT_NE(script.find("for n1 in 10000 1000000"), std::string::npos);
  for (const char* f : {"fig2a", "fig2b", "fig2c"})
    EXPECT_EQ(refusal(load(std::string("examples/paper/") + f + "-trajectories.toml",
                           {"solver.kind=exact"})), "") << f;
  EXPECT_EQ(refusal(load("examples/paper/fig4a.toml",
                         {"system.initial=[\"product 6\",\"ground\",\"ground\"]"})), "");
  EXPECT_EQ(refusal(load("examples/paper/fig4b.toml",
                         {"system.initial=[\"product 500000\",\"ground\",\"ground\"]"})), "");
  for (const char* k : {"550000", "950000"})
    EXPECT_EQ(refusal(load("examples/paper/eq5.toml",
                           {"system.domains=[1000000,100]",
                            std::string("system.initial=[\"dicke ") + k + "\",\"ground\"]"})), "");
  EXPECT_EQ(refusal(load("examples/paper/fig2c-trajectories.toml",
                         {"solver.trajectories=500", "time.points=61"})), "");
  // The paper's 1e8-spin mean field (Fig. 3b) is one of the files; checked by name as well.
  const auto fig3b = load("examples/paper/fig3b.toml");
  ASSERT_EQ(fig3b.model.spins[0], 100000000);
  EXPECT_EQ(refusal(fig3b), "");
}

TEST(RunBounds, OverflowingRatesAreRefusedNamingTheReservoir) {
  // gamma = nbar = 1e300: gamma (nbar + 1) = inf; trajectories wrote NaN everywhere, the mean
  // field stopped at "step size underflow" naming no field, the exact solver blamed time.end.
  const std::string text = kOneSpin + "[[reservoir]]\ndomains = [1]\ngamma = 1e300\nnbar = 1e300\n";
  for (const char* kind : {"trajectories", "meanfield", "exact", "steady"}) {
    SCOPED_TRACE(kind);
    expect_refused(qtraj::parse_run_config(text, {std::string("solver.kind=\"") + kind + "\""}),
                   "reservoir[1].nbar", "overflows");
  }
}

TEST(RunBounds, EndlessThermalTrajectoriesAreRefused) {
  // nbar = 1, time.end = 1e9: jumps go on at a constant rate; the run never ended.
  const std::string text = kOneSpin + "[[reservoir]]\ndomains = [1]\nnbar = 1.0\n[time]\nend = 1e9\n"
                                      "[solver]\nkind = \"trajectories\"\n";
  const auto config = qtraj::parse_run_config(text);
  EXPECT_GT(estimate_run(config).jumps_per_trajectory, 1e9);
  expect_refused(config, "time.end", "jumps");
  // The same at time.end = 1e3 passes (2e3 jumps per trajectory at most: S = 1/2) ...
  const auto shorter = qtraj::parse_run_config(text, {"time.end=1e3"});
  EXPECT_EQ(refusal(shorter), "");
  EXPECT_NEAR(estimate_run(shorter).jumps_per_trajectory, 1.0 + 2.0 * 1e3 * 1.0 * 1.0, 1e-6);
  // ... but not 1e10 trajectories of it at time.end = 2e3 (4e13 jumps).
  expect_refused(qtraj::parse_run_config(text, {"time.end=2e3", "solver.trajectories=10000000000"}),
                 "solver.trajectories", "jumps");
}

TEST(RunBounds, LongMeanFieldAndExactRunsAreRefused) {
  for (const char* kind : {"meanfield", "exact"}) {
    SCOPED_TRACE(kind);
    const auto config = qtraj::parse_run_config(
        kOneDecaying + "[time]\nend = 1e15\n", {std::string("solver.kind=\"") + kind + "\""});
    expect_refused(config, "time.end", "<= 1e10");
    EXPECT_EQ(refusal(qtraj::parse_run_config(kOneDecaying + "[time]\nend = 1e9\n",
                                              {std::string("solver.kind=\"") + kind + "\""})), "");
  }
}

TEST(RunBounds, TooManyOutputPointsAreRefusedBySolver) {
  // time.points = 1e8 was accepted by every solver (> 5 GB, then "out of memory").
  for (const char* kind : {"trajectories", "meanfield", "exact"}) {
    SCOPED_TRACE(kind);
    const auto config = qtraj::parse_run_config(
        kOneSpin + "[time]\npoints = 100000000\n", {std::string("solver.kind=\"") + kind + "\""});
    expect_refused(config, "time.points", "numbers");
    EXPECT_EQ(refusal(qtraj::parse_run_config(kOneSpin + "[time]\npoints = 1000000\n",
                                              {std::string("solver.kind=\"") + kind + "\""})), "");
  }
}

TEST(RunBounds, MemoryLimitBoundsALargeTrajectory) {
  // One trajectory of 49999999 spins peaked at 8.3 GB whatever solver.memory_limit said.
  const std::string text = "[system]\ndomains = [49999999]\ninitial = [\"excited\"]\n"
                           "[time]\nend = 1e-6\n[solver]\nkind = \"trajectories\"\ntrajectories = 1\n"
                           "threads = 1\n";
  const auto config = qtraj::parse_run_config(text, {"solver.memory_limit=\"1 GB\""});
  const double bytes = estimate_run(config).memory_bytes();
  EXPECT_GT(bytes, 5e9);  // measured 8.3 GB
  EXPECT_LT(bytes, 1.5e10);
  expect_refused(config, "system.domains", "more than solver.memory_limit = 1 GB");
  // Without solver.memory_limit the machine's memory is the bound.
  const auto unlimited = qtraj::parse_run_config(text);
  EXPECT_EQ(estimate_run(unlimited).memory_budget,
            static_cast<double>(qtraj::bounds::physical_memory_bytes()));
  EXPECT_FALSE(estimate_run(unlimited).budget_from_limit);
}

TEST(RunBounds, SolveRefusesBeforeRunning) {
  // solve() checks the bounds first: the refusal comes at once, whatever the solver.
  const auto config = qtraj::parse_run_config(
      kOneSpin + "[[reservoir]]\ndomains = [1]\nnbar = 1.0\n[time]\nend = 1e9\n[solver]\n"
                 "kind = \"trajectories\"\n");
  EXPECT_THROW(qtraj::solve(config, qtraj::SolveContext{}), qtraj::InputError);
}

TEST(RunBounds, SectorStatsAreExactWhereSmallAndBoundsWhereLarge) {
  // (2, 1): k1 in 0..2, k2 in 0..1: d = 1, 2, 2, 1.
  auto st = qtraj::bounds::sector_stats({2, 1}, 3);
  EXPECT_EQ(st.states, 6);
  EXPECT_EQ(st.squares, 1 + 4 + 4 + 1);
  EXPECT_EQ(st.max_dim, 2);
  st = qtraj::bounds::sector_stats({2, 1}, 1);  // sectors 0 and 1 only
  EXPECT_EQ(st.states, 3);
  // (60, 30, 10): sum d_n^2 = 5822949, max d_n = 341, 20801 states (brute force in Python).
  st = qtraj::bounds::sector_stats({60, 30, 10}, 100);
  EXPECT_EQ(st.states, 20801);
  EXPECT_EQ(st.squares, 5822949);
  EXPECT_EQ(st.max_dim, 341);
  // One domain beyond the convolution: exact all the same (d_n = 1).
  st = qtraj::bounds::sector_stats({49999999}, 49999999);
  EXPECT_EQ(st.states, 5e7);
  EXPECT_EQ(st.max_dim, 1);
  EXPECT_EQ(st.squares, 5e7);
}

}  // namespace

namespace {
// The memory term `what` of a run's estimate (-1 if it has none).
double memory_term(const qtraj::RunConfig& config, const std::string& what) {
  for (const auto& t : estimate_run(config).memory)
    if (t.what == what) return t.bytes;
  return -1;
}
}  // namespace

TEST(RunBounds, LocalProcessesCountInTheWork) {
  // One domain of 1000 spins in the ground state, no reservoir (one domain: no default chain):
  // only local dephasing jumps, at exactly g_phi N / 4 per unit time (docs/local.md).
  const std::string text = "[system]\ndomains = [1000]\ninitial = [\"ground\"]\n[[local]]\n"
                           "dephasing = 4.0\n[solver]\nkind = \"trajectories\"\n";
  const auto dephased = qtraj::parse_run_config(text + "[time]\nend = 1e3\n");
  EXPECT_DOUBLE_EQ(estimate_run(dephased).jumps_per_trajectory, 4.0 / 4.0 * 1000.0 * 1e3);
  EXPECT_EQ(refusal(dephased), "");
  expect_refused(qtraj::parse_run_config(text + "[time]\nend = 1e6\n"), "time.end", "jumps");
  // Pumping adds quanta that emission takes out again: 2 g_p N end at most.
  const auto pumped = qtraj::parse_run_config(
      "[system]\ndomains = [1000]\ninitial = [\"ground\"]\n[[local]]\npumping = 0.5\n"
      "emission = 1.0\n[time]\nend = 10\n[solver]\nkind = \"trajectories\"\n");
  EXPECT_DOUBLE_EQ(estimate_run(pumped).jumps_per_trajectory, 2.0 * 0.5 * 1000.0 * 10.0);
  // Every local channel is named by its table and process.
  const auto rates = qtraj::bounds::channel_rates(pumped.model);
  ASSERT_EQ(rates.size(), 2u);
  EXPECT_EQ(rates[0].field, "local[1].emission");
  EXPECT_EQ(rates[1].field, "local[1].pumping");
  EXPECT_TRUE(rates[1].raising);
}

TEST(RunBounds, LocalProcessesCountInTheExactMemory) {
  // (2, 1), excited and ground, local emission on both domains: blocks (j_1, j_2) = (1, 1/2) and
  // (0, 1/2). Nothing raises n, so sectors up to the start's 2 excitations are stored: block
  // (1, 1/2) has internal sectors of sizes 1, 2, 2 (sum of squares 9), block (0, 1/2) (shift 1)
  // sizes 1, 1 (2); plus the accumulators: 1 reservoir channel and 2 per domain. 16 doubles.
  const std::string text = "[system]\ndomains = [2, 1]\n[[local]]\nemission = 0.1\n"
                           "[solver]\nkind = \"exact\"\n";
  const auto small = qtraj::parse_run_config(text);
  EXPECT_DOUBLE_EQ(memory_term(small, "state over the total-spin blocks"),
                   8.0 * qtraj::exact::kLocalStateVectors * 16.0);
  EXPECT_EQ(memory_term(small, "state vectors and eigensystems"), -1.0);
  expect_refused(qtraj::parse_run_config(text, {"solver.memory_limit=1200", "time.points=2"}),
                 "system.domains",
                 "total-spin blocks");
  // The steady solver holds the same state.
  EXPECT_DOUBLE_EQ(
      memory_term(qtraj::parse_run_config(text, {"solver.kind=\"steady\""}),
                  "state over the total-spin blocks"),
      8.0 * qtraj::exact::kLocalStateVectors * 16.0);
  // Where walking the blocks would be slow, the top block alone (a lower bound) is counted, and
  // the answer comes at once: (400, 100, 20) with dephasing needs far more than this machine has.
  const auto large = qtraj::parse_run_config(
      "[system]\ndomains = [400, 100, 20]\n[[local]]\ndephasing = 0.01\n[solver]\nkind = \"exact\"\n");
  const auto top = qtraj::bounds::sector_stats(large.model.spins, 520.0);
  EXPECT_DOUBLE_EQ(memory_term(large, "state over the total-spin blocks"),
                   8.0 * qtraj::exact::kLocalStateVectors * top.squares);
  expect_refused(large, "system.domains", "total-spin blocks");
}
