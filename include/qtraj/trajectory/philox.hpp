#pragma once
// Philox4x32-10 (Salmon et al., SC'11), host-device, bit-identical to Random123's philox4x32
// (<Random123/philox.h>, 10 rounds) and to cuRAND's Philox4_32_10 algorithm.
//
// Per-trajectory stream (docs/design.md section 3.4): key = 64-bit seed (lo, hi), counter =
// (draw block lo, draw block hi, trajectory lo, trajectory hi). With cuRAND this is exactly
// curand_init(seed, /*subsequence=*/trajectory, /*offset=*/4 * block) followed by curand4().
// Each counter block gives 4 words = 2 uniform doubles: uniform 2b from words (0, 1) of block b,
// uniform 2b + 1 from words (2, 3). So trajectory t draws the same numbers on every backend and
// with any number of threads, ranks or shards.
#include <cstdint>

#include "qtraj/hd.hpp"

namespace qtraj::trajectory {

struct Philox4x32 {
  std::uint32_t v[4];
};

namespace detail {
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

QTRAJ_HD inline void philox_round(std::uint32_t ctr[4], const std::uint32_t key[2]) {
  const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * ctr[0];
  const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * ctr[2];
  const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
  const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
  const std::uint32_t c1 = ctr[1], c3 = ctr[3];
  ctr[0] = hi1 ^ c1 ^ key[0];
  ctr[1] = lo1;
  ctr[2] = hi0 ^ c3 ^ key[1];
  ctr[3] = lo0;
}
}  // namespace detail

/// philox4x32_R(10, ctr, key): ten rounds, the key bumped by the Weyl constants between rounds.
QTRAJ_HD inline Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t key0, std::uint32_t key1) {
  std::uint32_t key[2] = {key0, key1};
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += detail::kPhiloxW0;
      key[1] += detail::kPhiloxW1;
    }
    detail::philox_round(ctr.v, key);
  }
  return ctr;
}

/// Uniform double in the open interval (0, 1) from two 32-bit words: the top 52 of the 64 bits,
/// u = (m + 1/2) 2^-52, m in [0, 2^52). Exactly representable, never 0 or 1 (2^-53 <= u <= 1 - 2^-53).
QTRAJ_HD inline double uniform_open01(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t m = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 12;
  return (static_cast<double>(m) + 0.5) * 2.220446049250313080847e-16;  // 2^-52
}

/// The random stream of one trajectory. Plain data: every rank of a team holds its own copy and,
/// drawing in the same order, gets the same numbers.
class PhiloxStream {
 public:
  QTRAJ_HD PhiloxStream(std::uint64_t seed, std::uint64_t trajectory)
      : key0_(static_cast<std::uint32_t>(seed)), key1_(static_cast<std::uint32_t>(seed >> 32)),
        traj_lo_(static_cast<std::uint32_t>(trajectory)),
        traj_hi_(static_cast<std::uint32_t>(trajectory >> 32)) {}

  /// The counter block b of this stream (4 words).
  QTRAJ_HD Philox4x32 block(std::uint64_t b) const {
    Philox4x32 ctr = {{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), traj_lo_,
                       traj_hi_}};
    return philox4x32_10(ctr, key0_, key1_);
  }
  /// The next uniform in (0, 1); uniform number i comes from block i / 2, half i % 2.
  QTRAJ_HD double uniform() {
    if ((draws_ & 1u) == 0) buffer_ = block(draws_ >> 1);
    const int h = static_cast<int>(draws_ & 1u) * 2;
    ++draws_;
    return uniform_open01(buffer_.v[h], buffer_.v[h + 1]);
  }
  /// Number of uniforms drawn so far.
  QTRAJ_HD std::uint64_t draws() const { return draws_; }

 private:
  std::uint32_t key0_, key1_, traj_lo_, traj_hi_;
  std::uint64_t draws_ = 0;
  Philox4x32 buffer_ = {{0, 0, 0, 0}};
};

}  // namespace qtraj::trajectory
