// Welford/Chan aggregator: agreement with two-pass statistics, exact-enough merging, stability.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "qtraj/trajectory/aggregator.hpp"
#include "qtraj/trajectory/philox.hpp"

using qtraj::trajectory::Aggregator;
using qtraj::trajectory::PhiloxStream;

namespace {
std::vector<std::vector<double>> samples(int n, double offset) {
  PhiloxStream s(42, 0);
  std::vector<std::vector<double>> out(n, std::vector<double>(3));
  for (auto& v : out) {
    v[0] = offset + s.uniform();
    v[1] = -2.0 * s.uniform() * s.uniform();
    v[2] = 5.0;  // constant: variance exactly 0
  }
  return out;
}
}  // namespace

TEST(Aggregator, MatchesTwoPassStatistics) {
  const auto xs = samples(1000, 0.0);
  Aggregator a(3);
  for (const auto& x : xs) a.add(x.data());
  ASSERT_EQ(a.count(), 1000);
  for (int i = 0; i < 3; ++i) {
    double mean = 0;
    for (const auto& x : xs) mean += x[i];
    mean /= xs.size();
    double ss = 0;
    for (const auto& x : xs) ss += (x[i] - mean) * (x[i] - mean);
    EXPECT_NEAR(a.mean(i), mean, 1e-14 * std::abs(mean) + 1e-15);
    EXPECT_NEAR(a.variance(i), ss / 999, 1e-12 * ss / 999 + 1e-300);
    EXPECT_NEAR(a.standard_error(i), std::sqrt(ss / 999 / 1000), 1e-12);
  }
  EXPECT_EQ(a.standard_error(2), 0.0);
}

TEST(Aggregator, MergingTwoHalvesEqualsOnePass) {
  const auto xs = samples(10001, 3.0);
  Aggregator all(3), left(3), right(3);
  for (std::size_t k = 0; k < xs.size(); ++k) {
    all.add(xs[k].data());
    (k < 4321 ? left : right).add(xs[k].data());
  }
  left.merge(right);
  ASSERT_EQ(left.count(), all.count());
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(left.mean(i), all.mean(i), 1e-14 * std::abs(all.mean(i)));
    EXPECT_NEAR(left.variance(i), all.variance(i), 1e-12 * all.variance(i));
  }
  // Merging into or from an empty aggregator is the identity.
  Aggregator empty(3), copy = all;
  copy.merge(empty);
  empty.merge(all);
  EXPECT_EQ(copy.mean(0), all.mean(0));
  EXPECT_EQ(empty.mean(0), all.mean(0));
  EXPECT_EQ(empty.count(), all.count());
  // Round trip through the raw state (what ranks exchange).
  const Aggregator back = Aggregator::from_state(all.count(), all.means(), all.m2());
  EXPECT_EQ(back.standard_error(1), all.standard_error(1));
}

TEST(Aggregator, StableWithLargeOffset) {
  // Values 1e9 + U(0,1): naive sum-of-squares loses every digit of the variance; Welford keeps it.
  const auto xs = samples(100000, 1e9);
  Aggregator a(3);
  for (const auto& x : xs) a.add(x.data());
  EXPECT_NEAR(a.variance(0), 1.0 / 12, 0.01);
  EXPECT_NEAR(a.mean(0), 1e9 + 0.5, 0.01);
}
