// Hand-checked small cases of DickeSpace, the sector operators and initial_components
// (docs/design.md section 2).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "qtraj/model/dicke_space.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/model.hpp"
#include "qtraj/model/sector_operators.hpp"

namespace qtraj {
namespace {

const double kSqrt2 = std::sqrt(2.0);

// (j_1, j_2) = (1, 1/2): states |k_1, k_2>, ordered by n = k_1 + k_2, then lexicographically:
//   n = 0: (0,0) -> 0;  n = 1: (0,1) -> 1, (1,0) -> 2;  n = 2: (1,1) -> 3, (2,0) -> 4;
//   n = 3: (2,1) -> 5.
TEST(DickeSpace, OrdersStatesBySectorThenLexicographically) {
  const DickeSpace s({2, 1});
  EXPECT_EQ(s.dim(), 6);
  EXPECT_EQ(s.num_domains(), 2);
  EXPECT_EQ(s.max_excitation(), 3);
  const std::vector<std::int64_t> begin = {0, 1, 3, 5}, size = {1, 2, 2, 1};
  for (int n = 0; n <= 3; ++n) {
    EXPECT_EQ(s.sector_begin(n), begin[n]);
    EXPECT_EQ(s.sector_size(n), size[n]);
  }
  const std::vector<std::vector<int>> k = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 1}};
  for (std::int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(s.k(i, 0), k[i][0]);
    EXPECT_EQ(s.k(i, 1), k[i][1]);
    EXPECT_EQ(s.excitation(i), k[i][0] + k[i][1]);
    EXPECT_EQ(s.index(k[i]), i);
  }
  EXPECT_EQ(s.index({3, 0}), DickeSpace::kNone);
  EXPECT_EQ(s.index({0, -1}), DickeSpace::kNone);
  EXPECT_EQ(s.index({0}), DickeSpace::kNone);
}

TEST(DickeSpace, LadderTablesAndAmplitudes) {
  const DickeSpace s({2, 1});
  // J_1^- |1,1> = sqrt(1 * 2) |0,1>;  J_2^- |1,1> = sqrt(1 * 1) |1,0>.
  EXPECT_EQ(s.lowered(3, 0), 1);
  EXPECT_DOUBLE_EQ(s.lower_amplitude(3, 0), kSqrt2);
  EXPECT_EQ(s.lowered(3, 1), 2);
  EXPECT_DOUBLE_EQ(s.lower_amplitude(3, 1), 1.0);
  // J_1^- |2,0> = sqrt(2 * 1) |1,0>;  J_2^- |2,0> = 0.
  EXPECT_EQ(s.lowered(4, 0), 2);
  EXPECT_DOUBLE_EQ(s.lower_amplitude(4, 0), kSqrt2);
  EXPECT_EQ(s.lowered(4, 1), DickeSpace::kNone);
  // J_1^+ |0,0> = sqrt(1 * 2) |1,0>;  J^+ on the top state gives nothing.
  EXPECT_EQ(s.raised(0, 0), 2);
  EXPECT_DOUBLE_EQ(s.raise_amplitude(0, 0), kSqrt2);
  EXPECT_EQ(s.raised(5, 0), DickeSpace::kNone);
  EXPECT_EQ(s.raised(5, 1), DickeSpace::kNone);
  EXPECT_DOUBLE_EQ(s.raise_amplitude(5, 0), 0.0);
  // <k+1|J^+|k> = <k|J^-|k+1> for every state and domain.
  for (std::int64_t i = 0; i < s.dim(); ++i)
    for (int d = 0; d < 2; ++d)
      if (s.raised(i, d) != DickeSpace::kNone) {
        EXPECT_EQ(s.lowered(s.raised(i, d), d), i);
        EXPECT_DOUBLE_EQ(s.raise_amplitude(i, d), s.lower_amplitude(s.raised(i, d), d));
      }
  // Spin 3/2: J^- |3/2, 3/2> = sqrt(3) |3/2, 1/2>, then 2, then sqrt(3).
  EXPECT_DOUBLE_EQ(lowering_element(3, 3), std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(lowering_element(3, 2), 2.0);
  EXPECT_DOUBLE_EQ(lowering_element(3, 1), std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(lowering_element(3, 0), 0.0);
}

TEST(DickeSpace, SectorSizesAndLimits) {
  const DickeSpace s({2, 2});  // two spin-1: sizes 1, 2, 3, 2, 1
  const std::vector<std::int64_t> size = {1, 2, 3, 2, 1};
  for (int n = 0; n <= 4; ++n) EXPECT_EQ(s.sector_size(n), size[n]);
  const DickeSpace zero({0, 1});  // a spin-0 domain contributes one state
  EXPECT_EQ(zero.dim(), 2);
  EXPECT_EQ(zero.max_excitation(), 1);
  EXPECT_THROW(DickeSpace({40, 40}, 100), InputError);
  EXPECT_THROW(DickeSpace({-1}), InputError);
}

TEST(DickeSectorOperators, ChannelBlockByHand) {
  const DickeSpace s({2, 1});
  const Channel down{0, false, 0.5, {0, 1}};
  // Sector 2 -> 1, columns (1,1), (2,0), rows (0,1), (1,0):
  //   C |1,1> = sqrt(r) (sqrt2 |0,1> + |1,0>),  C |2,0> = sqrt(r) sqrt2 |1,0>.
  const Eigen::MatrixXd b = channel_block(s, down, 2);
  ASSERT_EQ(b.rows(), 2);
  ASSERT_EQ(b.cols(), 2);
  const double r = std::sqrt(0.5);
  EXPECT_DOUBLE_EQ(b(0, 0), r * kSqrt2);
  EXPECT_DOUBLE_EQ(b(1, 0), r * 1.0);
  EXPECT_DOUBLE_EQ(b(0, 1), 0.0);
  EXPECT_DOUBLE_EQ(b(1, 1), r * kSqrt2);
  // Sector 0 has no image under a lowering channel; sector 3 none under a raising one.
  EXPECT_EQ(channel_block(s, down, 0).rows(), 0);
  const Channel up{0, true, 0.5, {0, 1}};
  EXPECT_EQ(channel_block(s, up, 3).rows(), 0);
  // Raising block 1 -> 2 is the transpose of lowering 2 -> 1 (same rate).
  EXPECT_TRUE(channel_block(s, up, 1).isApprox(b.transpose(), 1e-15));
  // A channel on domain 2 only: C |1,1> = sqrt(r) |1,0>.
  const Channel only2{0, false, 0.5, {1}};
  const Eigen::MatrixXd b2 = channel_block(s, only2, 2);
  EXPECT_DOUBLE_EQ(b2(1, 0), r);
  EXPECT_DOUBLE_EQ(b2(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(b2.col(1).norm(), 0.0);
}

TEST(DickeSectorOperators, NoJumpGeneratorAndEigenByHand) {
  const DickeSpace s({2, 1});
  const std::vector<Channel> chans = {Channel{0, false, 1.0, {0, 1}}};
  // K_2 = (1/2) B^T B = (1/2) [[3, sqrt2], [sqrt2, 2]]: eigenvalues (1/2){1, 4} = {0.5, 2}.
  const Eigen::MatrixXd k2 = no_jump_generator(s, chans, 2);
  EXPECT_NEAR(k2(0, 0), 1.5, 1e-15);
  EXPECT_NEAR(k2(0, 1), kSqrt2 / 2, 1e-15);
  EXPECT_NEAR(k2(1, 0), kSqrt2 / 2, 1e-15);
  EXPECT_NEAR(k2(1, 1), 1.0, 1e-15);
  const SectorEigen e = diagonalize_sector(s, chans, 2);
  EXPECT_NEAR(e.lambda[0], 0.5, 1e-14);
  EXPECT_NEAR(e.lambda[1], 2.0, 1e-14);
  EXPECT_TRUE((e.vectors * e.lambda.asDiagonal() * e.vectors.transpose()).isApprox(k2, 1e-14));
  // Sector 1: B_1 (1 -> 0) = [1, sqrt2] (|0,1> -> J_2^-: 1; |1,0> -> J_1^-: sqrt2);
  // K_1 = (1/2)[[1, sqrt2], [sqrt2, 2]]: eigenvalues 0 (the dark state) and 3/2.
  const SectorEigen e1 = diagonalize_sector(s, chans, 1);
  EXPECT_NEAR(e1.lambda[0], 0.0, 1e-14);
  EXPECT_NEAR(e1.lambda[1], 1.5, 1e-14);
  // Single domain spin-1, one channel of rate 2: K_n = (1/2) 2 J^+J^- = k (2j - k + 1).
  const DickeSpace one({2});
  const std::vector<Channel> c1 = {Channel{0, false, 2.0, {0}}};
  EXPECT_NEAR(no_jump_generator(one, c1, 2)(0, 0), 2.0, 1e-15);
  EXPECT_NEAR(no_jump_generator(one, c1, 1)(0, 0), 2.0, 1e-15);
  EXPECT_NEAR(no_jump_generator(one, c1, 0)(0, 0), 0.0, 1e-15);
  // A raising channel adds (1/2) r J^- J^+ = (1/2) r (k + 1)(2j - k).
  const std::vector<Channel> c2 = {Channel{0, false, 2.0, {0}}, Channel{0, true, 0.5, {0}}};
  EXPECT_NEAR(no_jump_generator(one, c2, 0)(0, 0), 0.25 * 2, 1e-15);
  EXPECT_NEAR(no_jump_generator(one, c2, 1)(0, 0), 2.0 + 0.25 * 2, 1e-15);
  EXPECT_NEAR(no_jump_generator(one, c2, 2)(0, 0), 2.0, 1e-15);
}

TEST(DickeInitialComponents, BasisStates) {
  const auto ex = initial_components(InitialState{InitialState::Kind::excited}, 3);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].two_j, 3);
  EXPECT_DOUBLE_EQ(ex[0].weight, 1.0);
  ASSERT_EQ(ex[0].amplitudes.size(), 4u);
  EXPECT_EQ(ex[0].amplitudes[3], std::complex<double>(1.0));
  const auto gr = initial_components(InitialState{InitialState::Kind::ground}, 3);
  EXPECT_EQ(gr[0].amplitudes[0], std::complex<double>(1.0));
  const auto dk = initial_components(InitialState::parse("dicke 1", 2, "x"), 2);
  ASSERT_EQ(dk.size(), 1u);
  EXPECT_EQ(dk[0].amplitudes[1], std::complex<double>(1.0));
  EXPECT_EQ(dk[0].amplitudes[0], std::complex<double>(0.0));
}

TEST(DickeInitialComponents, ProductStateIsAMixtureOverJ) {
  // 1 of 3 spins up: m = -1/2, j in {1/2, 3/2}; d_{3/2} = 1, d_{1/2} = C(3,1) - C(3,0) = 2:
  // weights 1/3 (|3/2, -1/2>, k = 1) and 2/3 (|1/2, -1/2>, k = 0).
  const auto p = initial_components(InitialState::parse("product 1", 3, "x"), 3);
  ASSERT_EQ(p.size(), 2u);
  for (const auto& c : p) {
    if (c.two_j == 1) {
      EXPECT_NEAR(c.weight, 2.0 / 3, 1e-15);
      EXPECT_EQ(c.amplitudes[0], std::complex<double>(1.0));
    } else {
      ASSERT_EQ(c.two_j, 3);
      EXPECT_NEAR(c.weight, 1.0 / 3, 1e-15);
      EXPECT_EQ(c.amplitudes[1], std::complex<double>(1.0));
    }
  }
  // 2 of 4: m = 0, j in {0, 1, 2} with d_j = 2, 3, 1 out of C(4,2) = 6.
  const auto q = initial_components(InitialState::parse("product 2", 4, "x"), 4);
  ASSERT_EQ(q.size(), 3u);
  for (const auto& c : q) {
    const double expect = c.two_j == 0 ? 2.0 / 6 : c.two_j == 2 ? 3.0 / 6 : 1.0 / 6;
    EXPECT_NEAR(c.weight, expect, 1e-15) << "two_j " << c.two_j;
    // m = k - j = 0 in every component.
    for (std::size_t k = 0; k < c.amplitudes.size(); ++k)
      EXPECT_EQ(std::abs(c.amplitudes[k]), 2 * static_cast<int>(k) == c.two_j ? 1.0 : 0.0);
  }
  // Larger case: weights sum to 1 and <J^z> = K - N/2 in every component.
  const auto r = initial_components(InitialState::parse("product 3", 10, "x"), 10);
  double total = 0;
  for (const auto& c : r) {
    total += c.weight;
    for (std::size_t k = 0; k < c.amplitudes.size(); ++k)
      if (std::abs(c.amplitudes[k]) > 0) EXPECT_DOUBLE_EQ(k - c.two_j / 2.0, 3 - 5.0);
  }
  EXPECT_NEAR(total, 1.0, 1e-14);
  EXPECT_EQ(r.size(), 4u);  // j = 2, 3, 4, 5
}

TEST(DickeInitialComponents, CoherentState) {
  // theta = pi/2, phi = 0.3, N = 2: each spin (|up> + e^{i phi}|down>)/sqrt2, so
  // amplitude_k = sqrt(C(2,k)) (1/sqrt2)^2 e^{i phi (2 - k)} = {1/2, 1/sqrt2, 1/2} x phases.
  const auto c = initial_components(InitialState::parse("coherent 1.5707963267948966 0.3", 2, "x"), 2);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].two_j, 2);
  const std::vector<double> mag = {0.5, 1 / kSqrt2, 0.5};
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(std::abs(c[0].amplitudes[k]), mag[k], 1e-15);
    const auto expect = std::polar(mag[k], 0.3 * (2 - k));
    EXPECT_NEAR(std::abs(c[0].amplitudes[k] - expect), 0.0, 1e-15);
  }
  // theta = 0 is fully excited, theta = pi the ground state.
  const auto up = initial_components(InitialState::parse("coherent 0 0", 4, "x"), 4);
  EXPECT_NEAR(std::abs(up[0].amplitudes[4]), 1.0, 1e-15);
  const auto down = initial_components(InitialState::parse("coherent 3.141592653589793 0", 4, "x"), 4);
  EXPECT_NEAR(std::abs(down[0].amplitudes[0]), 1.0, 1e-15);
  // <J^z> = (N/2) cos(theta) for theta = 1.0, N = 5.
  const auto g = initial_components(InitialState::parse("coherent 1.0 0.7", 5, "x"), 5);
  double jz = 0, norm = 0;
  for (int k = 0; k <= 5; ++k) {
    jz += std::norm(g[0].amplitudes[k]) * (k - 2.5);
    norm += std::norm(g[0].amplitudes[k]);
  }
  EXPECT_NEAR(norm, 1.0, 1e-14);
  EXPECT_NEAR(jz, 2.5 * std::cos(1.0), 1e-14);
}

TEST(DickeModel, CollapseChannels) {
  Model m;
  m.spins = {3, 2, 1};
  m.reservoirs = {Reservoir{{0, 1}, 2.0, 0.5}, Reservoir{{1, 2}, 1.0, 0.0}};
  const auto c = collapse_channels(m);
  ASSERT_EQ(c.size(), 3u);  // two lowering, one raising (nbar = 0 has no raising channel)
  EXPECT_FALSE(c[0].raising);
  EXPECT_DOUBLE_EQ(c[0].rate, 3.0);  // gamma (nbar + 1)
  EXPECT_FALSE(c[1].raising);
  EXPECT_DOUBLE_EQ(c[1].rate, 1.0);
  EXPECT_TRUE(c[2].raising);
  EXPECT_DOUBLE_EQ(c[2].rate, 1.0);  // gamma nbar
  EXPECT_EQ(c[2].reservoir, 0);
  Model chain;
  chain.spins = {1, 1, 1};
  const auto d = collapse_channels(chain);  // default chain (1,2), (2,3), gamma 1
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].domains, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace qtraj
