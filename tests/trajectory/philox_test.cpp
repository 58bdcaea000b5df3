// Philox4x32-10 against Random123 (the reference implementation) and its published known-answer
// vectors (Random123 kat_vectors, "philox4x32 10" lines), and the open-interval uniform mapping.
#include <gtest/gtest.h>

#include <Random123/philox.h>

#include <cmath>
#include <cstdint>

#include "qtraj/trajectory/philox.hpp"

using qtraj::trajectory::Philox4x32;
using qtraj::trajectory::PhiloxStream;
using qtraj::trajectory::philox4x32_10;
using qtraj::trajectory::uniform_open01;

namespace {

Philox4x32 reference(const Philox4x32& c, std::uint32_t k0, std::uint32_t k1) {
  r123::Philox4x32_R<10> rng;
  r123::Philox4x32_R<10>::ctr_type ctr = {{c.v[0], c.v[1], c.v[2], c.v[3]}};
  r123::Philox4x32_R<10>::key_type key = {{k0, k1}};
  const auto out = rng(ctr, key);
  return Philox4x32{{out[0], out[1], out[2], out[3]}};
}

}  // namespace

TEST(Philox, KnownAnswerVectors) {
  struct Kat {
    Philox4x32 ctr;
    std::uint32_t k0, k1;
    Philox4x32 expect;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& kat : kats) {
    const Philox4x32 got = philox4x32_10(kat.ctr, kat.k0, kat.k1);
    const Philox4x32 ref = reference(kat.ctr, kat.k0, kat.k1);
    for (int w = 0; w < 4; ++w) {
      EXPECT_EQ(got.v[w], kat.expect.v[w]) << "word " << w;
      EXPECT_EQ(ref.v[w], kat.expect.v[w]) << "Random123 itself, word " << w;
    }
  }
}

TEST(Philox, BitIdenticalToRandom123OnManyCounters) {
  std::uint32_t x = 12345u;
  auto next = [&] { return x = x * 1664525u + 1013904223u; };  // LCG to vary inputs
  for (int trial = 0; trial < 20000; ++trial) {
    const Philox4x32 c = {{next(), next(), next(), next()}};
    const std::uint32_t k0 = next(), k1 = next();
    const Philox4x32 got = philox4x32_10(c, k0, k1), ref = reference(c, k0, k1);
    for (int w = 0; w < 4; ++w) ASSERT_EQ(got.v[w], ref.v[w]);
  }
}

TEST(Philox, StreamLayoutIsSeedKeyAndDrawTrajectoryCounter) {
  // key = (seed lo, seed hi), counter = (block lo, block hi, trajectory lo, trajectory hi): the same
  // as cuRAND's curand_init(seed, trajectory, 4 * block) + curand4().
  const std::uint64_t seed = 0x0123456789abcdefULL, traj = 0x00000002fedcba98ULL;
  PhiloxStream stream(seed, traj);
  for (std::uint64_t b = 0; b < 5; ++b) {
    const Philox4x32 ref = reference(
        {{static_cast<std::uint32_t>(b), 0u, 0xfedcba98u, 0x2u}}, 0x89abcdefu, 0x01234567u);
    EXPECT_DOUBLE_EQ(stream.uniform(), uniform_open01(ref.v[0], ref.v[1]));
    EXPECT_DOUBLE_EQ(stream.uniform(), uniform_open01(ref.v[2], ref.v[3]));
  }
  EXPECT_EQ(stream.draws(), 10u);
  // Different trajectories give different streams.
  PhiloxStream a(1, 0), b(1, 1);
  EXPECT_NE(a.uniform(), b.uniform());
}

TEST(Philox, UniformIsStrictlyInsideTheUnitInterval) {
  EXPECT_GT(uniform_open01(0u, 0u), 0.0);
  EXPECT_LT(uniform_open01(0xffffffffu, 0xffffffffu), 1.0);
  EXPECT_EQ(uniform_open01(0u, 0u), 0x1p-53);
  EXPECT_EQ(uniform_open01(0xffffffffu, 0xffffffffu), 1.0 - 0x1p-53);
  // Mean and variance of many draws: 1/2 and 1/12 within 5 sigma.
  PhiloxStream s(7, 3);
  const int n = 200000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = s.uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(var, 1.0 / 12, 5 * std::sqrt(1.0 / 180 / n));
}
