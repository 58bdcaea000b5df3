#pragma once
// Internal to the trajectory solver: the lean view of the (block, sector) a Krylov trajectory with
// local processes occupies (docs/local.md, "Trajectories"), rebuilt by each worker on entry.
//
// A trajectory in sector n of block b = (j_1..j_M) reads, through the Krylov propagator and the
// jump step, only the ladder tables of the sectors n - 1, n, n + 1 of b: K_n psi =
// (1/2) sum_c C_c^+ C_c psi goes through sector n -+ 1 and back (the `raise` entries of sector
// n - 1, the `lower` entries of sector n + 1, both of sector n), a collective jump applies C_c
// from n to n -+ 1 (the same entries), the observables and the local channels read k in sector n,
// and a local jump ranks its target in the target block (sector_rank: the completions table).
// The window holds that: k, lower and raise of the sectors lo .. hi (lo <= n - 1, hi >= n + 1,
// clipped to the block), indexed from the first state of sector lo (sector_begin is shifted by the
// same amount, so sector_dim and every difference of indices are those of the whole block's
// bundle), the block's sector offsets and completions. Entries that point outside the window
// (lower of sector lo, raise of sector hi: never read) are -1. A window is built reaching
// kBelow sectors down and kAbove up, so a trajectory's collective jumps (n -> n - 1) move
// through it without a rebuild until it reaches the bottom. The arithmetic is that of the whole block's
// lean bundle (amplitudes from k, the same summation order), so a trajectory gives the same bits
// through windows as through whole-block bundles (tested).
//
// Cost: O(3 d_n M) to enter a sector (d_n <= the block's largest sector: an odometer over the
// states, then the ladder indices by pairing neighbouring sectors in order, no ranking), O(M N)
// more to enter another block (N = sum 2 j_i); memory O(3 d_n M) + O(M N) per window, two per
// worker thread (the one a jump leaves and the one it enters), nothing shared, nothing to evict.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "qtraj/trajectory/system_view.hpp"

namespace qtraj::trajectory {

class SectorWindow {
 public:
  /// base: a bundle of the same run (its channel tables, n_spins and local rates are shared, not
  /// copied: base's storage must outlive the window). Requires base.local_rates.
  explicit SectorWindow(const SystemView& base);
  SectorWindow(const SectorWindow&) = delete;  // view_ points into the members
  SectorWindow& operator=(const SectorWindow&) = delete;

  static constexpr int kBelow = 16, kAbove = 2;

  /// Moves the window to sector n of block two_j (M values of 2 j_i), rebuilding it unless it
  /// covers n; returns its view, valid for a trajectory in sector n until the next enter().
  const SystemView& enter(const int* two_j, int n);
  const SystemView& view() const { return view_; }
  bool holds(const SystemView* v) const { return v == &view_; }
  /// The sector of the last enter() (-1 before the first).
  int sector() const { return n_; }
  /// True if the window holds what a trajectory in sector n of its block reads.
  bool covers(int n) const {
    return lo_ >= 0 && n >= 0 && n <= max_n_ && lo_ <= std::max(0, n - 1) &&
           hi_ >= std::min(max_n_, n + 1);
  }
  /// The sectors held (lo .. hi).
  int first_sector() const { return lo_; }
  int last_sector() const { return hi_; }
  /// Sectors and blocks entered so far (benchmarks).
  std::int64_t sector_builds() const { return sector_builds_; }
  std::int64_t block_builds() const { return block_builds_; }

 private:
  void build_block(const int* two_j);
  void build_sectors(int n);

  SystemView view_;
  int m_ = 0, n_ = -1, max_n_ = -1, lo_ = -1, hi_ = -1;
  std::vector<int> two_j_;
  std::vector<std::int64_t> global_begin_;  // the block's sector offsets (max_n + 2)
  std::vector<std::int64_t> sector_begin_;  // global_begin_ - the window's first state
  std::vector<std::int64_t> completions_;   // SystemView::completions of the block
  std::vector<int> k_, lower_, raise_;      // the window's states, M each
  std::vector<int> kk_;                     // enumeration scratch
  std::int64_t sector_builds_ = 0, block_builds_ = 0;
};

}  // namespace qtraj::trajectory
