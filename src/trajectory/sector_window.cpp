// The (block, sector) window of a Krylov trajectory with local processes (sector_window.hpp).
#include "trajectory/sector_window.hpp"

#include <algorithm>
#include <string>

#include "qtraj/error.hpp"

namespace qtraj::trajectory {

SectorWindow::SectorWindow(const SystemView& base) : view_(base), m_(base.num_domains) {
  if (!base.local_rates) throw Error("SectorWindow: the base bundle has no local processes");
  // Only the lean Krylov data: no tables of the whole block, no spectral or adaptive data.
  view_.obs_diag = nullptr;
  view_.lower_amp = nullptr;
  view_.raise_amp = nullptr;
  view_.spectral_max_sector = -1;
  view_.lambda = nullptr;
  view_.eig_offset = nullptr;
  view_.eig_v = nullptr;
  view_.eig_vt = nullptr;
  view_.k_row_ptr = nullptr;
  view_.k_col = nullptr;
  view_.k_val = nullptr;
  view_.two_j = nullptr;
  view_.sector_begin = nullptr;
  view_.k = view_.lower = view_.raise = nullptr;
  view_.completions = nullptr;
  kk_.assign(m_, 0);
}

const SystemView& SectorWindow::enter(const int* two_j, int n) {
  if (max_n_ < 0 || !std::equal(two_j, two_j + m_, two_j_.begin())) {
    build_block(two_j);
    n_ = lo_ = hi_ = -1;
  }
  if (!covers(n)) build_sectors(n);
  n_ = n;
  return view_;
}

void SectorWindow::build_block(const int* two_j) {
  two_j_.assign(two_j, two_j + m_);
  max_n_ = 0;
  for (int i = 0; i < m_; ++i) max_n_ += two_j_[i];
  // completions[i][r] = #{(k_i .. k_{M-1}) : sum <= r} (TrajectorySystem::build_completions):
  // the exact counts C_i by a box convolution per domain from the back (prefix sums: O(N) each),
  // then their prefix sums.
  const int width = max_n_ + 1;
  completions_.assign(static_cast<std::size_t>(m_ + 1) * width, 0);
  std::vector<std::int64_t> count(width, 0), prefix(width + 1, 0);
  count[0] = 1;
  for (int i = m_; i >= 0; --i) {
    if (i < m_) {
      for (int r = 0; r < width; ++r) prefix[r + 1] = prefix[r] + count[r];
      for (int r = 0; r < width; ++r)
        count[r] = prefix[r + 1] - prefix[std::max(0, r - two_j_[i])];
    }
    std::int64_t acc = 0;
    for (int r = 0; r < width; ++r)
      completions_[static_cast<std::size_t>(i) * width + r] = acc += count[r];
  }
  // count = C_0: the sector sizes.
  global_begin_.assign(width + 1, 0);
  for (int r = 0; r < width; ++r) global_begin_[r + 1] = global_begin_[r] + count[r];
  sector_begin_.assign(width + 1, 0);
  view_.two_j = two_j_.data();
  view_.max_excitation = max_n_;
  view_.completions = completions_.data();
  ++block_builds_;
}

void SectorWindow::build_sectors(int n) {
  if (n < 0 || n > max_n_)
    throw Error("SectorWindow: sector " + std::to_string(n) + " outside the block");
  // Sectors n - 1 .. n + 1 are needed; the window reaches further (kBelow sectors down, one more
  // up), so that the next collective jumps (n -> n - 1) find their sector in it.
  const int lo = std::max(0, n - kBelow), hi = std::min(max_n_, n + kAbove);
  lo_ = lo;
  hi_ = hi;
  const std::int64_t first = global_begin_[lo];
  for (std::size_t r = 0; r < global_begin_.size(); ++r)
    sector_begin_[r] = global_begin_[r] - first;
  view_.sector_begin = sector_begin_.data();
  const std::int64_t states = global_begin_[hi + 1] - first;
  k_.resize(static_cast<std::size_t>(states) * m_);
  lower_.resize(k_.size());
  raise_.resize(k_.size());
  int max_dim = 1;
  for (int q = lo; q <= hi; ++q) max_dim = std::max(max_dim, view_.sector_dim(q));
  view_.max_sector_dim = max_dim;
  // remaining[i] = the most that domains i.. can hold.
  std::vector<int> remaining(m_ + 1, 0);
  for (int i = m_ - 1; i >= 0; --i) remaining[i] = remaining[i + 1] + two_j_[i];
  auto least = [&](int i, int rem) { return std::max(0, rem - remaining[i + 1]); };
  for (int q = lo; q <= hi; ++q) {
    // The states of sector q in DickeSpace order (lexicographic in k_1..k_M, k_1 slowest): an
    // odometer over k_1..k_{M-1}, each from its least value up; k_M takes the rest.
    std::int64_t s = sector_begin_[q];
    int rem = q;
    for (int i = 0; i < m_; ++i) {
      kk_[i] = least(i, rem);
      rem -= kk_[i];
    }
    for (;;) {
      std::copy(kk_.begin(), kk_.end(), k_.begin() + s * m_);
      ++s;
      // Advance the last domain i < M - 1 that can grow (take one from the domains after it).
      int i = m_ - 2;
      int left = kk_[m_ - 1];  // excitations held by domains i + 1 ..
      while (i >= 0 && (kk_[i] == two_j_[i] || left == 0)) {
        left += kk_[i];
        --i;
      }
      if (i < 0) break;
      ++kk_[i];
      rem = left - 1;
      for (int l = i + 1; l < m_; ++l) {
        kk_[l] = least(l, rem);
        rem -= kk_[l];
      }
    }
    if (s != sector_begin_[q + 1])
      throw Error("SectorWindow: sector " + std::to_string(q) + " enumerated wrongly");
  }
  // Ladder indices without ranking: k -> k + e_i maps the states of sector q with k_i < 2 j_i
  // one to one onto those of sector q + 1 with k_i > 0 and keeps the lexicographic order, so the
  // two lists, each walked in order, pair up (raise of the first, lower of the second). Entries
  // no pair reaches (k_i at its bound, or a neighbour sector outside the window) stay -1.
  std::fill(lower_.begin(), lower_.end(), -1);
  std::fill(raise_.begin(), raise_.end(), -1);
  for (int q = lo; q < hi; ++q)
    for (int i = 0; i < m_; ++i) {
      std::int64_t a = sector_begin_[q], b = sector_begin_[q + 1];
      const std::int64_t a_end = sector_begin_[q + 1], b_end = sector_begin_[q + 2];
      for (;; ++a, ++b) {
        while (a < a_end && k_[a * m_ + i] == two_j_[i]) ++a;
        while (b < b_end && k_[b * m_ + i] == 0) ++b;
        if (a == a_end || b == b_end) break;
        raise_[a * m_ + i] = static_cast<int>(b);
        lower_[b * m_ + i] = static_cast<int>(a);
      }
    }
  view_.k = k_.data();
  view_.lower = lower_.data();
  view_.raise = raise_.data();
  ++sector_builds_;
}

}  // namespace qtraj::trajectory
