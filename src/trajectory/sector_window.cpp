// The (block, sector) window of a Krylov trajectory with local processes (sector_window.hpp).
#include "trajectory/sector_window.hpp"

#include <algorithm>
#include <string>

#include "qtraj/error.hpp"
#include "qtraj/trajectory/local_jump.hpp"

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
    n_ = -1;
  }
  if (n != n_) build_sectors(n);
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
  const int lo = std::max(0, n - 1), hi = std::min(max_n_, n + 1);
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
  for (int q = lo; q <= hi; ++q) {
    // The states of sector q in DickeSpace order (lexicographic in k_1..k_M, k_1 slowest).
    std::int64_t s = sector_begin_[q];
    auto emit = [&] {
      int* k = k_.data() + s * m_;
      for (int i = 0; i < m_; ++i) k[i] = kk_[i];
      for (int i = 0; i < m_; ++i) {
        const int k_i = kk_[i];
        auto shifted = [&](int d) { return [&, d](int l) { return l == i ? k_i + d : kk_[l]; }; };
        lower_[s * m_ + i] =
            q - 1 >= lo && k_i > 0
                ? static_cast<int>(sector_begin_[q - 1] + sector_rank(view_, q - 1, shifted(-1)))
                : -1;
        raise_[s * m_ + i] =
            q + 1 <= hi && k_i < two_j_[i]
                ? static_cast<int>(sector_begin_[q + 1] + sector_rank(view_, q + 1, shifted(+1)))
                : -1;
      }
      ++s;
    };
    // Odometer over k_1..k_M with sum q: k_i from its least to its largest value.
    auto least = [&](int i, int rem) { return std::max(0, rem - remaining[i + 1]); };
    int rem = q;
    for (int i = 0; i < m_; ++i) {
      kk_[i] = least(i, rem);
      rem -= kk_[i];
    }
    for (;;) {
      emit();
      // Advance the last domain i < M - 1 that can grow (the last one is fixed by the sum).
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
  view_.k = k_.data();
  view_.lower = lower_.data();
  view_.raise = raise_.data();
  n_ = n;
  ++sector_builds_;
}

}  // namespace qtraj::trajectory
