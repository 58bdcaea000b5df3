// solver.closure = "auto", the default (docs/meanfield.md 3.4): fourth_order where it is
// trustworthy, z_right up front where it is refused, unvalidated or too large, and z_right again
// where fourth_order diverges. The accuracy targets for the default are checked against
// the steady solver in closure_test.cpp (SteadyStateErrorAtTheIssuesSizes).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <variant>

#include "cli/cli_helpers.hpp"
#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/meanfield/auto_closure.hpp"
#include "qtraj/meanfield/cumulant_equations.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"

namespace {

const std::string kRun =
    "[system]\ndomains = [20, 4, 2]\ninitial = [\"excited\", \"ground\", \"ground\"]\n"
    "[time]\nstart = 1e-3\nend = 20.0\npoints = 81\nspacing = \"log\"\n"
    "[solver]\nkind = \"meanfield\"\n";

std::string attribute(const qtraj::Result& r, const std::string& key) {
  return std::get<std::string>(r.attributes.at(key));
}

qtraj::RunConfig config_at(const std::string& domains, const std::string& initial = "") {
  std::vector<std::string> sets = {"system.domains=[" + domains + "]"};
  if (!initial.empty()) sets.push_back("system.initial=[" + initial + "]");
  return qtraj::parse_run_config(kRun, sets);
}

// The fallback line: one sentence on one line, naming the cause once, with no nested messages
// (no "meanfield:" error text, no advice to set solver.closure, one pair of parentheses).
void expect_one_sentence(const std::string& err) {
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  const std::string start =
      "qtraj: solver.closure = auto fell back to z_right because fourth_order diverged (";
  EXPECT_EQ(err.rfind(start, 0), 0u) << err;
  EXPECT_EQ(err.substr(err.size() - std::min<std::size_t>(err.size(), 3)), ").\n") << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '('), 1) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), ')'), 1) << err;
  for (const std::string nested : {"meanfield:", "use solver.closure", "; ", ". "})
    EXPECT_EQ(err.find(nested), std::string::npos) << nested << " in " << err;
}

// Exactly the z_right numbers (every output, every domain) and attributes naming the fallback.
void expect_z_right_numbers(const qtraj::Result& a, qtraj::RunConfig config) {
  config.solver.closure = "z_right";
  const auto z = qtraj::solve(config);
  ASSERT_EQ(a.time, z.time);
  for (std::size_t t = 0; t < a.time.size(); ++t)
    for (std::size_t i = 0; i < a.jz_over_n_mean.cols; ++i) {
      EXPECT_EQ(a.jz_over_n_mean(t, i), z.jz_over_n_mean(t, i));
      EXPECT_EQ(a.excitations_mean(t, i), z.excitations_mean(t, i));
    }
  EXPECT_EQ(attribute(a, "meanfield_closure"), attribute(z, "meanfield_closure"));
  EXPECT_EQ(
      attribute(a, "meanfield_closure_auto").rfind("z_right, because fourth_order diverged (", 0),
      0u);
}

TEST(MeanFieldAutoClosure, IsTheDefault) {
  EXPECT_EQ(std::string(qtraj::meanfield::kDefaultClosure), "auto");
  EXPECT_EQ(qtraj::parse_run_config(kRun).solver.closure, "auto");
  EXPECT_EQ(qtraj::parse_run_config(kRun + "closure = \"auto\"\n").solver.closure, "auto");
}

TEST(MeanFieldAutoClosure, FallsBackToZRightWhereFourthOrderDiverges) {
  // (20,4,2): fourth_order takes <J_1^z>/N_1 below -1/2 (docs/meanfield.md 3.3). auto must give
  // exactly the z_right numbers, say so in the attributes, and print one line on stderr.
  qtraj::RunConfig config = config_at("20,4,2");
  ::testing::internal::CaptureStderr();
  const auto a = qtraj::solve(config);
  const std::string err = ::testing::internal::GetCapturedStderr();
  config.solver.closure = "z_right";
  const auto z = qtraj::solve(config);
  ASSERT_EQ(a.time, z.time);
  for (std::size_t t = 0; t < a.time.size(); ++t)
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(a.jz_over_n_mean(t, i), z.jz_over_n_mean(t, i));
      EXPECT_EQ(a.excitations_mean(t, i), z.excitations_mean(t, i));
    }
  EXPECT_EQ(attribute(a, "meanfield_closure"), attribute(z, "meanfield_closure"));
  EXPECT_EQ(attribute(a, "meanfield_closure").rfind("z_right:", 0), 0u);
  EXPECT_EQ(attribute(a, "meanfield_closure_requested"), "auto");
  EXPECT_EQ(attribute(z, "meanfield_closure_requested"), "z_right");
  EXPECT_NE(attribute(a, "meanfield_closure_auto").find("diverged"), std::string::npos);
  expect_one_sentence(err);
  // Explicit fourth_order keeps stopping with the error there.
  config.solver.closure = "fourth_order";
  EXPECT_THROW(qtraj::solve(config), qtraj::Error);
}

TEST(MeanFieldAutoClosure, StopsARunawayEarlyAndGivesTheZRightNumbers) {
  // (40,10,2) to t = 2000 on a log grid from 1e-6: no output time falls inside fourth_order's
  // blow-up, which the integrator used to follow through ~1e5 steps to a step-size underflow at
  // t = 0.595 (75-110 s). The runaway guard stops it at t = 0.554 (docs/meanfield.md 3.4).
  qtraj::RunConfig config = config_at("40,10,2");
  config.time.start = 1e-6;
  config.time.end = 2000.0;
  config.time.points = 101;
  ::testing::internal::CaptureStderr();
  const auto a = qtraj::solve(config);
  const std::string err = ::testing::internal::GetCapturedStderr();
  expect_one_sentence(err);
  EXPECT_NE(err.find("times its largest physical value at t = 0.5"), std::string::npos) << err;
  expect_z_right_numbers(a, config);
  // Explicit fourth_order stops with the same cause in the full message.
  config.solver.closure = "fourth_order";
  try {
    qtraj::solve(config);
    ADD_FAILURE() << "fourth_order returned a result";
  } catch (const qtraj::meanfield::ClosureDiverged& e) {
    EXPECT_NE(e.cause().find("times its largest physical value"), std::string::npos) << e.cause();
    EXPECT_NE(std::string(e.what()).find("fourth_order closure diverged (" + e.cause() + ")"),
              std::string::npos)
        << e.what();
  }
}

TEST(MeanFieldAutoClosure, RunsFourthOrderWhereItConverges) {
  // (30,15,5), (60,30,10): fourth_order converges (and meets its accuracy target,
  // closure_test.cpp); (40,1) both excited: it converges although its moments of three and four
  // factors go past 10 times their bound (docs/meanfield.md 3.4). auto gives its numbers, silently.
  for (const auto& [n, initial] : {std::pair<std::string, std::string>{"30,15,5", ""},
                                   {"60,30,10", ""},
                                   {"40,1", "\"excited\",\"excited\""}}) {
    qtraj::RunConfig config = config_at(n, initial);
    ::testing::internal::CaptureStderr();
    const auto a = qtraj::solve(config);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << n;
    config.solver.closure = "fourth_order";
    const auto f = qtraj::solve(config);
    ASSERT_EQ(a.time, f.time);
    for (std::size_t t = 0; t < a.time.size(); ++t)
      for (std::size_t i = 0; i < a.jz_over_n_mean.cols; ++i)
        EXPECT_EQ(a.jz_over_n_mean(t, i), f.jz_over_n_mean(t, i)) << n;
    EXPECT_EQ(attribute(a, "meanfield_closure").rfind("fourth_order:", 0), 0u) << n;
    EXPECT_EQ(attribute(a, "meanfield_closure_requested"), "auto");
    EXPECT_EQ(attribute(a, "meanfield_closure_auto").rfind("fourth_order", 0), 0u) << n;
  }
}

TEST(MeanFieldAutoClosure, SkipsFourthOrderUpFront) {
  using qtraj::meanfield::auto_skips_fourth_order;
  EXPECT_EQ(auto_skips_fourth_order(config_at("60,30,10").model), "");
  EXPECT_EQ(auto_skips_fourth_order(config_at("1000,500,100").model), "");
  // The paper's sizes (Figs. 3a, 3b, 4b): the largest domain is over the bound.
  for (const std::string n : {"1000000,10000,100", "100000000,100000,100", "1001,4,2"})
    EXPECT_NE(auto_skips_fourth_order(config_at(n).model).find("largest N_i"), std::string::npos) << n;
  EXPECT_NE(auto_skips_fourth_order(config_at("20,4,2", "\"coherent 1.0 0.3\",\"ground\",\"ground\"").model)
                .find("coherent"),
            std::string::npos);
  qtraj::RunConfig warm = config_at("20,4,2");
  warm.model.reservoirs = {{{0, 1}, 1.0, 0.5}, {{1, 2}, 1.0, 0.0}};
  EXPECT_NE(auto_skips_fourth_order(warm.model).find("nbar"), std::string::npos);
  qtraj::RunConfig four = qtraj::parse_run_config(
      kRun, {"system.domains=[8,4,2,2]", "system.initial=[\"excited\",\"ground\",\"ground\",\"ground\"]"});
  EXPECT_NE(auto_skips_fourth_order(four.model).find("domains"), std::string::npos);
  // Fig. 3b's sizes go straight to z_right: no fourth_order attempt, no stderr line.
  qtraj::RunConfig fig3b = config_at("100000000,100000,100");
  fig3b.time.start = 1e-11;
  ::testing::internal::CaptureStderr();
  const auto r = qtraj::solve(fig3b);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(attribute(r, "meanfield_closure").rfind("z_right:", 0), 0u);
  EXPECT_NE(attribute(r, "meanfield_closure_auto").find("largest N_i"), std::string::npos);
  // A coherent state goes to z_right too (fourth_order refuses it with an InputError).
  const auto c = qtraj::solve(config_at("20,4,2", "\"coherent 1.0 0.3\",\"ground\",\"ground\""));
  EXPECT_EQ(attribute(c, "meanfield_closure").rfind("z_right:", 0), 0u);
}

TEST(MeanFieldAutoClosure, CommandLineWritesTheClosureAttributes) {
  // `qtraj run` with the default at (20,4,2): exit 0, the fallback line on stderr, and the file
  // names the closure that produced the numbers and the one requested.
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("qtraj_auto_closure_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string file = (dir / "run.toml").string(), out = (dir / "out.h5").string();
  std::ofstream(file) << kRun;
  const auto r = qtraj::testing::run_command(std::string(QTRAJ_CLI_PATH) + " run " + file + " -q -o " + out);
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_NE(r.text.find("solver.closure = auto fell back to z_right because fourth_order diverged"),
            std::string::npos)
      << r.text;
  const auto s = qtraj::read_result(out);
  EXPECT_EQ(attribute(s.result, "meanfield_closure").rfind("z_right:", 0), 0u);
  EXPECT_EQ(attribute(s.result, "meanfield_closure_requested"), "auto");
  fs::remove_all(dir);
}

}  // namespace
