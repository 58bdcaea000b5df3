// The local-process ladder amplitudes of include/qtraj/model/local_ladder.hpp against the sum
// rules that follow from the full-space operators: sum_s s_s^+ s_s^- = J^z + N/2,
// sum_s s_s^- s_s^+ = N/2 - J^z, sum_s (s^z_s)^2 = N (the trace of the block map equals the
// expectation of sum_s o_s^+ o_s in every |j, m>), and the degeneracies against 2^N.
#include <gtest/gtest.h>

#include <cmath>

#include "qtraj/model/local_ladder.hpp"

namespace qtraj {
namespace {

double sum_of_squares(LocalProcess p, long long n, long long two_j, long long two_m) {
  double s = 0;
  for (int dj = -1; dj <= 1; ++dj) {
    const double a = local_ladder_amplitude(p, n, two_j, two_m, dj);
    s += a * a;
  }
  return s;
}

TEST(LocalLadder, SumRulesHoldInEveryBlock) {
  for (long long n = 1; n <= 40; ++n) {
    for (long long two_j = n % 2; two_j <= n; two_j += 2) {
      for (long long two_m = -two_j; two_m <= two_j; two_m += 2) {
        const double m = 0.5 * two_m, half_n = 0.5 * n;
        EXPECT_NEAR(sum_of_squares(LocalProcess::emission, n, two_j, two_m), half_n + m, 1e-12)
            << "N=" << n << " 2j=" << two_j << " 2m=" << two_m;
        EXPECT_NEAR(sum_of_squares(LocalProcess::pumping, n, two_j, two_m), half_n - m, 1e-12)
            << "N=" << n << " 2j=" << two_j << " 2m=" << two_m;
        EXPECT_NEAR(sum_of_squares(LocalProcess::dephasing, n, two_j, two_m), double(n), 1e-11)
            << "N=" << n << " 2j=" << two_j << " 2m=" << two_m;
      }
    }
  }
}

TEST(LocalLadder, TargetsOutsideTheSpaceHaveZeroAmplitude) {
  const long long n = 6;
  // No j' above N/2, no j' below 0, no m' outside -j'..j'.
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::emission, n, 6, 2, 1), 0.0);
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::dephasing, n, 6, 2, 1), 0.0);
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::emission, n, 0, 0, -1), 0.0);
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::emission, n, 4, -4, 0), 0.0);   // m = -j
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::emission, n, 4, -2, -1), 0.0);  // m - 1 < -(j-1)
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::pumping, n, 4, 4, 0), 0.0);     // m = j
  EXPECT_EQ(local_ladder_amplitude(LocalProcess::dephasing, n, 4, 4, -1), 0.0);  // |m| > j - 1
  // The fully excited state, emission: sum_s s_s^- |up...up><up...up| s_s^+ is the mixture of the
  // N states with one spin down; its overlap with the symmetric |N/2, N/2 - 1> is 1/N per spin,
  // so weight 1 stays in j = N/2 and N - 1 = 5 goes to j = N/2 - 1.
  const double a_same = local_ladder_amplitude(LocalProcess::emission, n, 6, 6, 0);
  const double a_down = local_ladder_amplitude(LocalProcess::emission, n, 6, 6, -1);
  EXPECT_NEAR(a_same * a_same, 1.0, 1e-14);
  EXPECT_NEAR(a_down * a_down, 5.0, 1e-13);
}

TEST(LocalLadder, PumpingMirrorsEmission) {
  for (long long two_j = 1; two_j <= 9; two_j += 2)
    for (long long two_m = -two_j; two_m <= two_j; two_m += 2)
      for (int dj = -1; dj <= 1; ++dj)
        EXPECT_EQ(local_ladder_amplitude(LocalProcess::pumping, 9, two_j, two_m, dj),
                  local_ladder_amplitude(LocalProcess::emission, 9, two_j, -two_m, dj));
}

TEST(LocalLadder, DephasingInsideABlockIsOddInM) {
  for (long long two_m = -6; two_m <= 6; two_m += 2)
    EXPECT_EQ(local_ladder_amplitude(LocalProcess::dephasing, 10, 6, two_m, 0),
              -local_ladder_amplitude(LocalProcess::dephasing, 10, 6, -two_m, 0));
}

TEST(LocalLadder, DegeneraciesCountTheFullSpace) {
  // sum_j d_j (2j + 1) = 2^N, and d_j matches C(N, N/2 - j) - C(N, N/2 - j - 1).
  for (long long n = 1; n <= 30; ++n) {
    double total = 0;
    for (long long two_j = n % 2; two_j <= n; two_j += 2) {
      const double d = std::exp(log_spin_degeneracy(n, two_j));
      const long long a = (n - two_j) / 2;
      auto binom = [](long long nn, long long k) {
        return k < 0 ? 0.0 : std::round(std::exp(std::lgamma(nn + 1.0) - std::lgamma(k + 1.0) -
                                                  std::lgamma(nn - k + 1.0)));
      };
      EXPECT_NEAR(d, binom(n, a) - binom(n, a - 1), 1e-9 * d) << "N=" << n << " 2j=" << two_j;
      total += d * (two_j + 1);
    }
    EXPECT_NEAR(total, std::ldexp(1.0, static_cast<int>(n)), 1e-9 * std::ldexp(1.0, int(n)));
  }
}

TEST(LocalLadder, NoJumpRateIsHalfTheTotalJumpRate) {
  // K_local = (1/2) sum_p g_p sum_s o_s^+ o_s: with the sum rules above, per |j, m>.
  const long long n = 7;
  const double ge = 0.3, gp = 0.2, gphi = 0.7;
  for (long long two_m = -5; two_m <= 5; two_m += 2) {
    const double total = ge * sum_of_squares(LocalProcess::emission, n, 5, two_m) +
                         gp * sum_of_squares(LocalProcess::pumping, n, 5, two_m) +
                         0.25 * gphi * sum_of_squares(LocalProcess::dephasing, n, 5, two_m);
    EXPECT_NEAR(local_no_jump_rate(ge, gp, gphi, n, two_m), 0.5 * total, 1e-13);
  }
}

}  // namespace
}  // namespace qtraj
