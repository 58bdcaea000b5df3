// Run-file parsing: the contract keys, defaults, --set overrides, and one-line errors that name
// the field and the value.
#include <gtest/gtest.h>

#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj {
namespace {

const char* kFig2a = R"(
[system]
domains = [40, 2]
initial = ["excited", "ground"]
[[reservoir]]
domains = [1, 2]
gamma = 1.0
nbar = 0.0
[time]
end = 20.0
points = 201
spacing = "linear"
[solver]
kind = "exact"
[output]
path = "fig2a.h5"
)";

// Expects parse failure whose message starts with `field` and contains `fragment`.
void expect_error(const std::string& text, const std::string& field, const std::string& fragment,
                  const std::vector<std::string>& sets = {}) {
  try {
    parse_run_config(text, sets);
    FAIL() << "no error for field " << field;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(field, 0), 0u) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "error is not one line: " << what;
  }
}

TEST(RunConfig, ParsesTheContractKeys) {
  const RunConfig c = parse_run_config(kFig2a);
  ASSERT_EQ(c.model.spins, (std::vector<long long>{40, 2}));
  EXPECT_EQ(c.model.initial[0].kind, InitialState::Kind::excited);
  EXPECT_EQ(c.model.initial[1].kind, InitialState::Kind::ground);
  ASSERT_EQ(c.model.reservoirs.size(), 1u);
  EXPECT_EQ(c.model.reservoirs[0].domains, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(c.time.end, 20.0);
  EXPECT_EQ(c.time.points, 201);
  EXPECT_EQ(c.solver.kind, "exact");
  EXPECT_EQ(c.output.path, "fig2a.h5");
  EXPECT_EQ(c.text, kFig2a);
  const auto t = c.time.times();
  ASSERT_EQ(t.size(), 201u);
  EXPECT_DOUBLE_EQ(t[0], 0.0);
  EXPECT_DOUBLE_EQ(t[1], 0.1);
  EXPECT_DOUBLE_EQ(t.back(), 20.0);
}

TEST(RunConfig, DefaultReservoirsAreTheChain) {
  const RunConfig c = parse_run_config("[system]\ndomains = [8, 6, 5, 1]\n");
  ASSERT_EQ(c.model.reservoirs.size(), 3u);
  EXPECT_EQ(c.model.reservoirs[2].domains, (std::vector<int>{2, 3}));
  EXPECT_DOUBLE_EQ(c.model.reservoirs[1].gamma, 1.0);
  EXPECT_DOUBLE_EQ(c.model.reservoirs[1].nbar, 0.0);
  EXPECT_EQ(c.model.initial[0].kind, InitialState::Kind::excited);
  EXPECT_EQ(c.model.initial[3].kind, InitialState::Kind::ground);
}

TEST(RunConfig, LogGridStartsAtZeroAndIsGeometric) {
  const RunConfig c = parse_run_config(
      "[system]\ndomains = [2]\n[time]\nend = 10.0\npoints = 5\nspacing = \"log\"\nstart = 1e-3\n");
  const auto t = c.time.times();
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0], 0.0);
  EXPECT_NEAR(t[1], 1e-3, 1e-15);
  EXPECT_NEAR(t[2], 1e-3 * std::pow(1e4, 1.0 / 3), 1e-12);
  EXPECT_DOUBLE_EQ(t[4], 10.0);
}

TEST(RunConfig, InitialStateSyntax) {
  const RunConfig c = parse_run_config(
      "[system]\ndomains = [12, 6, 2, 3]\n"
      "initial = [\"product 6\", \"dicke 3\", \"coherent 1.5 0.25\", \"ground\"]\n");
  EXPECT_EQ(c.model.initial[0].kind, InitialState::Kind::product);
  EXPECT_EQ(c.model.initial[0].k, 6);
  EXPECT_EQ(c.model.initial[1].kind, InitialState::Kind::dicke);
  EXPECT_EQ(c.model.initial[1].k, 3);
  EXPECT_EQ(c.model.initial[2].kind, InitialState::Kind::coherent);
  EXPECT_DOUBLE_EQ(c.model.initial[2].theta, 1.5);
  EXPECT_DOUBLE_EQ(c.model.initial[2].phi, 0.25);
}

TEST(RunConfig, SetOverridesAreAppliedAndRecorded) {
  const RunConfig c = parse_run_config(
      kFig2a, {"time.end=50", "solver.kind=trajectories", "system.domains=[12, 6]",
               "reservoir.1.gamma=0.5", "output.path=out.h5"});
  EXPECT_DOUBLE_EQ(c.time.end, 50.0);
  EXPECT_EQ(c.solver.kind, "trajectories");
  EXPECT_EQ(c.model.spins, (std::vector<long long>{12, 6}));
  EXPECT_DOUBLE_EQ(c.model.reservoirs[0].gamma, 0.5);
  EXPECT_EQ(c.output.path, "out.h5");
  EXPECT_NE(c.text.find("--set time.end=50"), std::string::npos);
  EXPECT_NE(c.text.find("end = 50"), std::string::npos);
}

TEST(RunConfig, ThreadCountsAreCheckedOnce) {
  // The run file's solver.threads and the CLI's --threads go through the same check.
  expect_error("[system]\ndomains = [4, 2]\n[solver]\nthreads = 5000\n", "solver.threads",
               "0..4096");
  expect_error("[system]\ndomains = [4, 2]\n[solver]\nthreads = -1\n", "solver.threads",
               "0..4096");
  EXPECT_EQ(parse_run_config("[system]\ndomains = [4, 2]\n[solver]\nthreads = 3\n").solver.threads,
            3);
  EXPECT_EQ(checked_thread_count(0, "--threads"), 0);
  EXPECT_EQ(checked_thread_count(4096, "--threads"), 4096);
  try {
    checked_thread_count(4097, "--threads");
    FAIL() << "4097 accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--threads", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("4097"), std::string::npos) << e.what();
  }
}

TEST(RunConfig, BadInputNamesFieldAndValue) {
  expect_error("[system]\ndomains = [40, 0]\n", "system.domains[2]", "got 0");
  expect_error("[system]\ndomains = [40, -3]\n", "system.domains[2]", "got -3");
  expect_error("[system]\ndomains = [40, \"x\"]\n", "system.domains[2]", "must be an integer");
  expect_error("[system]\ndomains = [4, 2]\ncolour = 3\n", "system.colour", "unknown key");
  expect_error("[system]\ndomains = [4, 2]\n[solvr]\nkind = \"exact\"\n", "solvr", "unknown key");
  expect_error("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 3]\n",
               "reservoir[1].domains", "got 3");
  expect_error("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 2]\ngamma = -1.0\n",
               "reservoir[1].gamma", "got -1");
  expect_error("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 2]\nnbar = -0.5\n",
               "reservoir[1].nbar", "got -0.5");
  expect_error("[system]\ndomains = [4, 2]\n[time]\nend = \"long\"\n", "time.end", "must be a number");
  expect_error("[system]\ndomains = [4, 2]\n[time]\nend = -1.0\n", "time.end", "> 0");
  expect_error("[system]\ndomains = [4, 2]\n[time]\nspacing = \"log\"\n", "time.start", "required");
  expect_error("[system]\ndomains = [4, 2]\n[solver]\nkind = \"magic\"\n", "solver.kind", "\"magic\"");
  expect_error("[system]\ndomains = [4, 2]\ninitial = [\"excited\"]\n", "system.initial", "one entry per domain");
  expect_error("[system]\ndomains = [4, 2]\ninitial = [\"dicke 9\", \"ground\"]\n",
               "system.initial[1]", "0..N = 4");
  expect_error("[system]\ndomains = [4, 2]\ninitial = [\"hot\", \"ground\"]\n", "system.initial[1]",
               "unknown initial state");
  expect_error("[system]\ndomains = [4, 2]\n[solver]\ntrajectories = 0\n", "solver.trajectories", "got 0");
  expect_error("[system\ndomains = [4, 2]\n", "run file:1", "malformed TOML");
  expect_error(kFig2a, "--set", "key=value", {"time.end"});
}

TEST(RunConfig, LocalTablesAddPerDomain) {
  const RunConfig c = parse_run_config(
      "[system]\ndomains = [4, 2, 1]\n"
      "[[local]]\nemission = 0.5\n"
      "[[local]]\ndomains = [2, 3]\ndephasing = 0.25\npumping = 0.125\n"
      "[[local]]\ndomains = [2]\nemission = 1.0\n");
  ASSERT_EQ(c.model.local.size(), 3u);
  EXPECT_EQ(c.model.local[0].domains, (std::vector<int>{0, 1, 2}));  // omitted: every domain
  EXPECT_EQ(c.model.local[1].domains, (std::vector<int>{1, 2}));
  const auto rates = c.model.local_rates();
  ASSERT_EQ(rates.size(), 3u);
  EXPECT_EQ(rates[0].emission, 0.5);
  EXPECT_EQ(rates[0].dephasing, 0.0);
  EXPECT_EQ(rates[1].emission, 1.5);
  EXPECT_EQ(rates[1].pumping, 0.125);
  EXPECT_EQ(rates[1].dephasing, 0.25);
  EXPECT_EQ(rates[2].emission, 0.5);
  EXPECT_TRUE(c.model.has_local());
}

TEST(RunConfig, LocalTablesWithZeroRatesAreNoLocalModel) {
  EXPECT_FALSE(parse_run_config("[system]\ndomains = [4, 2]\n").model.has_local());
  EXPECT_FALSE(parse_run_config("[system]\ndomains = [4, 2]\n[[local]]\ndomains = [1]\n"
                                "emission = 0.0\n")
                   .model.has_local());
  // --set reaches a local table like a reservoir (1-based array index).
  const RunConfig c = parse_run_config("[system]\ndomains = [4, 2]\n[[local]]\nemission = 0.0\n",
                                       {"local.1.dephasing=0.5"});
  EXPECT_EQ(c.model.local_rates()[1].dephasing, 0.5);
}

TEST(RunConfig, LocalBadInputNamesTableKeyAndValue) {
  const std::string head = "[system]\ndomains = [4, 2]\n";
  expect_error(head + "[[local]]\nemission = -0.1\n", "local[1].emission", "got -0.1");
  expect_error(head + "[[local]]\nemission = 0.1\n[[local]]\ndephasing = nan\n",
               "local[2].dephasing", "got nan");
  expect_error(head + "[[local]]\npumping = inf\n", "local[1].pumping", "got inf");
  expect_error(head + "[[local]]\npumping = \"fast\"\n", "local[1].pumping", "must be a number");
  expect_error(head + "[[local]]\ndomains = [3]\nemission = 0.1\n", "local[1].domains",
               "got 3");
  expect_error(head + "[[local]]\ndomains = [0]\nemission = 0.1\n", "local[1].domains",
               "got 0");
  expect_error(head + "[[local]]\ndomains = []\nemission = 0.1\n", "local[1].domains",
               "non-empty");
  expect_error(head + "[[local]]\ndomains = [1, 1]\nemission = 0.1\n", "local[1].domains",
               "listed twice");
  expect_error(head + "[[local]]\ndecay = 0.1\n", "local[1].decay", "unknown key");
  expect_error(head + "[local]\nemission = 0.1\n", "local", "[[local]]");
}

}  // namespace
}  // namespace qtraj
