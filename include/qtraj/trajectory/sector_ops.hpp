#pragma once
// Team-parallel building blocks on sector state vectors (host-device, see team.hpp for the
// contract): channel application in gather form, observables, norms.
#include "qtraj/trajectory/system_view.hpp"
#include "qtraj/trajectory/bit_identical.hpp"  // -ffp-contract=off where the templates are instantiated

namespace qtraj::trajectory {

/// Sector reached from sector n by channel c (n - 1 or n + 1; may be out of range).
QTRAJ_HD inline int channel_target(const SystemView& sys, int c, int n) {
  return sys.channel_raising[c] ? n + 1 : n - 1;
}

/// out = C_c in, in gather form (each output component written by one rank, no atomics):
///   lowering: (J_i^- psi)(s) = <s|J_i^-|s + e_i> psi(s + e_i) = raise_amp(s, i) psi(raise(s, i)),
///   raising:  (J_i^+ psi)(s) = <s|J_i^+|s - e_i> psi(s - e_i) = lower_amp(s, i) psi(lower(s, i)).
/// `in` lives in sector n, `out` in channel_target(c, n), which must exist. Returns ||out||^2 (every rank).
template <class Team>
QTRAJ_HD double apply_channel(Team& team, const SystemView& sys, int c, int n, const double* in_re,
                              const double* in_im, bool cplx, double* out_re, double* out_im) {
  QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team);
  const int target = channel_target(sys, c, n);
  const int m = sys.num_domains;
  const std::int64_t src_begin = sys.sector_begin[n];
  const std::int64_t dst_begin = sys.sector_begin[target];
  const int d_out = sys.sector_dim(target);
  const bool raising = sys.channel_raising[c] != 0;
  const int* from = raising ? sys.lower : sys.raise;
  const double* amp = raising ? sys.lower_amp : sys.raise_amp;  // nullptr: lean bundle
  const double scale = sys.channel_amp[c];
  const int dom_begin = sys.channel_domain_begin[c], dom_end = sys.channel_domain_begin[c + 1];
  double local = 0.0;
  for (int a = team.rank(); a < d_out; a += team.size()) {
    const std::int64_t s = dst_begin + a;
    double re = 0.0, im = 0.0;
    for (int q = dom_begin; q < dom_end; ++q) {
      const int i = sys.channel_domains[q];
      const int src = from[s * m + i];
      if (src < 0) continue;
      const double w =
          scale * (amp ? amp[s * m + i] : (raising ? sys.lower_amp_of(s, i) : sys.raise_amp_of(s, i)));
      re += w * in_re[src - src_begin];
      if (cplx) im += w * in_im[src - src_begin];
    }
    out_re[a] = re;
    if (cplx) out_im[a] = im;
    local += re * re + im * im;
  }
  return team.reduce_sum(local);  // also the sync that publishes out
}

/// ||psi||^2 of a sector-local vector of length d.
template <class Team>
QTRAJ_HD double norm2(Team& team, int d, const double* re, const double* im, bool cplx) {
  QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team);
  double local = 0.0;
  for (int a = team.rank(); a < d; a += team.size()) {
    local += re[a] * re[a];
    if (cplx) local += im[a] * im[a];
  }
  return team.reduce_sum(local);
}

/// dst = scale * src (length d), then sync.
template <class Team>
QTRAJ_HD void scale_copy(Team& team, int d, double scale, const double* src_re, const double* src_im,
                         bool cplx, double* dst_re, double* dst_im) {
  QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team);
  for (int a = team.rank(); a < d; a += team.size()) {
    dst_re[a] = scale * src_re[a];
    if (cplx) dst_im[a] = scale * src_im[a];
  }
  team.sync();
}

/// Normalised observables of the (unnormalised) state psi in sector n, all diagonal in the basis:
///   <J_i^z> = sum_s p_s (k_i - j_i),  <J_i^+ J_i^-> = sum_s p_s k_i (2 j_i - k_i + 1),
///   p_s = |psi_s|^2 / ||psi||^2. Rank 0 writes row[0..M) and row[M..2M).
template <class Team>
QTRAJ_HD void record_observables(Team& team, const SystemView& sys, int n, const double* re,
                                 const double* im, bool cplx, double* row) {
  QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team);
  const int d = sys.sector_dim(n);
  const int m = sys.num_domains;
  const std::int64_t begin = sys.sector_begin[n];
  const double total = norm2(team, d, re, im, cplx);
  const double inv = total > 0.0 ? 1.0 / total : 0.0;
  // Values in blocks of kBlock: one pass over the state per block, then kBlock reductions.
  // obs_diag holds the diagonal of J_i^z (columns 0..M-1) and J_i^+ J_i^- (columns M..2M-1).
  constexpr int kBlock = 16;
  const int width = 2 * m;
  for (int q0 = 0; q0 < width; q0 += kBlock) {
    const int nb = width - q0 < kBlock ? width - q0 : kBlock;
    double acc[kBlock];
    for (int q = 0; q < kBlock; ++q) acc[q] = 0.0;
    for (int a = team.rank(); a < d; a += team.size()) {
      double p = re[a] * re[a];
      if (cplx) p += im[a] * im[a];
      if (sys.obs_diag) {
        const double* diag = sys.obs_diag + (begin + a) * width + q0;
        for (int q = 0; q < nb; ++q) acc[q] += p * diag[q];
      } else {  // lean bundle: k_i - j_i and k_i (2 j_i - k_i + 1) from the k table
        const int* kk = sys.k + (begin + a) * m;
        for (int q = 0; q < nb; ++q) {
          const int col = q0 + q, i = col < m ? col : col - m;
          const double k_i = kk[i];
          acc[q] += p * (col < m ? k_i - 0.5 * sys.two_j[i] : k_i * (sys.two_j[i] - k_i + 1.0));
        }
      }
    }
    for (int q = 0; q < nb; ++q) {
      const double v = team.reduce_sum(acc[q]);
      if (team.rank() == 0) row[q0 + q] = v * inv;
    }
  }
}

}  // namespace qtraj::trajectory
