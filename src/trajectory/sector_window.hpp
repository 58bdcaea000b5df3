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
// The window holds exactly that: k, lower and raise of sectors n - 1 .. n + 1 (clipped to the
// block), indexed from the first state of sector n - 1 (sector_begin is shifted by the same amount,
// so sector_dim and every difference of indices are those of the whole block's bundle), the
// block's sector offsets and completions. Entries that point outside the window (lower of sector
// n - 1, raise of sector n + 1: never read) are -1. The arithmetic is that of the whole block's
// lean bundle (amplitudes from k, the same summation order), so a trajectory gives the same bits
// through windows as through whole-block bundles (tested).
//
// Cost: O(3 d_n M^2) to enter a sector (d_n <= the block's largest sector), O(M (N + 1)) more to
// enter another block; memory O(3 d_n M) + O(M N) per window, two per worker thread (the one a
// jump leaves and the one it enters), nothing shared, nothing to evict.
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

  /// Moves the window to sector n of block two_j (M values of 2 j_i); returns its view, valid for
  /// a trajectory in sector n until the next enter().
  const SystemView& enter(const int* two_j, int n);
  const SystemView& view() const { return view_; }
  bool holds(const SystemView* v) const { return v == &view_; }
  /// The sector the window is centred on (-1 before the first enter()).
  int sector() const { return n_; }
  /// Sectors and blocks entered so far (benchmarks).
  std::int64_t sector_builds() const { return sector_builds_; }
  std::int64_t block_builds() const { return block_builds_; }

 private:
  void build_block(const int* two_j);
  void build_sectors(int n);

  SystemView view_;
  int m_ = 0, n_ = -1, max_n_ = -1;
  std::vector<int> two_j_;
  std::vector<std::int64_t> global_begin_;  // the block's sector offsets (max_n + 2)
  std::vector<std::int64_t> sector_begin_;  // global_begin_ - the window's first state
  std::vector<std::int64_t> completions_;   // SystemView::completions of the block
  std::vector<int> k_, lower_, raise_;      // the window's states, M each
  std::vector<int> kk_;                     // enumeration scratch
  std::int64_t sector_builds_ = 0, block_builds_ = 0;
};

}  // namespace qtraj::trajectory
