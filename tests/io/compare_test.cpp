// `qtraj compare` statistics: deviations in standard errors, verdicts, grid checks.
#include <gtest/gtest.h>

#include <cmath>

#include "qtraj/io/compare.hpp"
#include "qtraj/error.hpp"

namespace qtraj {
namespace {

Result make(std::vector<double> mean, std::vector<double> err) {
  Result r;
  r.time = {0.0, 1.0, 2.0};
  r.resize(3, 1);
  r.jz_over_n_mean.data = std::move(mean);
  r.jz_over_n_stderr.data = std::move(err);
  return r;
}

TEST(Compare, ReportsLargestDeviationInStandardErrors) {
  const Result traj = make({0.5, 0.30, 0.10}, {0.0, 0.01, 0.02});
  const Result exact = make({0.5, 0.32, 0.05}, {0.0, 0.0, 0.0});
  const Comparison c = compare_results(traj, exact, 4.0, 1e-9);
  ASSERT_EQ(c.domains.size(), 1u);
  EXPECT_TRUE(c.stochastic);
  EXPECT_NEAR(c.domains[0].max_sigmas, 2.5, 1e-12);  // |0.10 - 0.05| / 0.02
  EXPECT_DOUBLE_EQ(c.domains[0].time_of_max, 2.0);
  EXPECT_NEAR(c.domains[0].max_abs_difference, 0.05, 1e-15);
  EXPECT_TRUE(c.passed);
  EXPECT_FALSE(compare_results(traj, exact, 2.0, 1e-9).passed);
}

TEST(Compare, ZeroStandardErrorUsesAbsoluteTolerance) {
  const Result a = make({0.5, 0.3, 0.1}, {0, 0, 0});
  const Result b = make({0.5, 0.3, 0.1 + 1e-7}, {0, 0, 0});
  EXPECT_FALSE(compare_results(a, b, 4.0, 1e-9).passed);
  EXPECT_TRUE(compare_results(a, b, 4.0, 1e-6).passed);
  EXPECT_FALSE(compare_results(a, b, 4.0, 1e-6).stochastic);
}

TEST(Compare, NanIsAFailure) {
  const Result a = make({0.5, NAN, 0.1}, {0, 0.1, 0.1});
  const Result b = make({0.5, 0.3, 0.1}, {0, 0, 0});
  EXPECT_FALSE(compare_results(a, b, 4.0, 1e-6).passed);
}

TEST(Compare, DifferentGridsAreRejected) {
  Result a = make({0, 0, 0}, {0, 0, 0});
  Result b = a;
  b.time[2] = 3.0;
  EXPECT_THROW(compare_results(a, b, 4, 1e-6), InputError);
}

TEST(Compare, SteadyStateResultsAtInfiniteTime) {
  // Steady results have one output time, t = inf: two of them compare; inf never matches a
  // finite time (either order), NaN matches nothing.
  Result a;
  a.time = {INFINITY};
  a.resize(1, 2);
  a.jz_over_n_mean.data = {-0.25, -0.25};
  Result b = a;
  b.jz_over_n_mean.data = {-0.25, -0.25 + 1e-7};
  EXPECT_TRUE(compare_results(a, b, 4.0, 1e-6).passed);
  EXPECT_FALSE(compare_results(a, b, 4.0, 1e-9).passed);
  EXPECT_NEAR(compare_results(a, b, 4.0, 1e-9).domains[1].max_abs_difference, 1e-7, 1e-15);
  Result finite = a;
  finite.time = {1e300};
  EXPECT_THROW(compare_results(a, finite, 4, 1e-6), InputError);
  EXPECT_THROW(compare_results(finite, a, 4, 1e-6), InputError);
  Result nan = a;
  nan.time = {NAN};
  EXPECT_THROW(compare_results(nan, nan, 4, 1e-6), InputError);
}

}  // namespace
}  // namespace qtraj
