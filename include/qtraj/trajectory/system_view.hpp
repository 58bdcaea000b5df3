#pragma once
// Flat, read-only views of one "bundle" (a DickeSpace with fixed j vector, its channels and the
// per-sector propagator data) and the per-trajectory workspace, for the host-device trajectory math.
// Everything is raw pointers into flat arrays (built on the host by TrajectorySystem, system.hpp;
// copied to the device by the CUDA backend). Indices: a "global" state index s is the DickeSpace
// index; a sector-local index a = s - sector_begin[n] addresses state vectors of sector n.
#include <atomic>

#include <math.h>

#include <cstdint>

#include "qtraj/hd.hpp"

namespace qtraj::trajectory {

struct SystemView {
  int num_domains = 0;     // M
  int num_channels = 0;    // C (collapse_channels order)
  int max_excitation = 0;  // largest sector index n of the space
  int max_sector_dim = 0;  // largest d_n over the sectors with data
  const int* two_j = nullptr;                // M: 2 j_i of this bundle
  const double* n_spins = nullptr;           // M: physical N_i (for <J^z>/N_i, excitations)
  const std::int64_t* sector_begin = nullptr;  // max_excitation + 2 (DickeSpace::sector_offsets)
  const int* k = nullptr;           // dim x M: k_i(s)
  const double* obs_diag = nullptr;  // dim x 2M: [s][i] = k_i - j_i, [s][M + i] = k_i (2 j_i - k_i + 1)
  const int* lower = nullptr;       // dim x M: index of J_i^- |s>, -1 if k_i = 0
  const double* lower_amp = nullptr;  // dim x M: <s - e_i| J_i^- |s> = sqrt(k_i (2 j_i - k_i + 1))
  const int* raise = nullptr;       // dim x M: index of J_i^+ |s>, -1 if k_i = 2 j_i
  const double* raise_amp = nullptr;  // dim x M: <s + e_i| J_i^+ |s> = sqrt((k_i + 1)(2 j_i - k_i))
  // obs_diag, lower_amp and raise_amp are nullptr in a lean bundle (Krylov propagator: 48 M bytes
  // per state less): their values are then computed from k and two_j (lower_amp_of etc. below).
  // Channels C_c = amp_c sum_{i in S_c} J_i^{-/+}, amp_c = sqrt(rate_c).
  const double* channel_amp = nullptr;       // C
  const int* channel_raising = nullptr;      // C: 0 lowering (n -> n-1), 1 raising (n -> n+1)
  const int* channel_domain_begin = nullptr; // C + 1: S_c = channel_domains[begin[c] .. begin[c+1])
  const int* channel_domains = nullptr;
  // Spectral data, sectors 0..spectral_max_sector: K_n = V diag(lambda) V^T.
  int spectral_max_sector = -1;
  const double* lambda = nullptr;          // dim: lambda of sector n at sector_begin[n] + b
  const std::int64_t* eig_offset = nullptr;  // max_excitation + 1: start of V_n (d_n^2 doubles)
  const double* eig_v = nullptr;           // row-major V_n: V_n(a, b) = eig_v[off + a d_n + b]
  const double* eig_vt = nullptr;          // row-major V_n^T: V_n(a, b) = eig_vt[off + b d_n + a]
  // Adaptive data: K (all sectors, block diagonal) in CSR with global column indices.
  const std::int64_t* k_row_ptr = nullptr;  // dim + 1 (nullptr if not built)
  const int* k_col = nullptr;
  const double* k_val = nullptr;
  // Local processes (docs/local.md; nullptr in a run without them): per domain the summed rates
  // (g_e, g_p, g_phi), M x 3; K gains local_no_jump_diagonal (local_jump.hpp). completions:
  // (M + 1) x (max_excitation + 1), completions[i (max_excitation + 1) + r] = the number of
  // (k_i .. k_{M-1}), 0 <= k_l <= 2 j_l, with sum <= r: ranks a k vector inside its sector.
  const double* local_rates = nullptr;
  const std::int64_t* completions = nullptr;

  QTRAJ_HD int sector_dim(int n) const {
    return static_cast<int>(sector_begin[n + 1] - sector_begin[n]);
  }
  /// <s - e_i| J_i^- |s> = sqrt(k_i (2 j_i - k_i + 1)), from the table or computed.
  QTRAJ_HD double lower_amp_of(std::int64_t s, int i) const {
    if (lower_amp) return lower_amp[s * num_domains + i];
    const double k_i = k[s * num_domains + i];
    return ::sqrt(k_i * (two_j[i] - k_i + 1.0));
  }
  /// <s + e_i| J_i^+ |s> = sqrt((k_i + 1)(2 j_i - k_i)), from the table or computed.
  QTRAJ_HD double raise_amp_of(std::int64_t s, int i) const {
    if (raise_amp) return raise_amp[s * num_domains + i];
    const double k_i = k[s * num_domains + i];
    return ::sqrt((k_i + 1.0) * (two_j[i] - k_i));
  }
};

/// Shared per-trajectory scratch (one per team). Sizes in doubles, d = max_sector_dim:
///   psi, tmp, coef (re and im): 6 d, then the propagator's own scratch `rk` (P::scratch_doubles(d):
///   spectral 2 d, adaptive 20 d, Krylov 2 (m + 1) d + (m + 1)^2 + 8 (m + 1) with m = 40), then channel_weight (C). Size it per propagator with
///   workspace_doubles<P>(d, C) / carve_workspace<P>(...) (spectral: 8 d + C instead of 26 d + C,
///   so larger sectors fit a block's shared memory on the GPU).
struct TrajectoryWorkspace {
  double* psi_re;  // d: the Dicke-basis state (sector-local)
  double* psi_im;
  double* tmp_re;  // d: channel images, output states
  double* tmp_im;
  double* coef_re;  // d: spectral eigen-coefficients
  double* coef_im;
  double* rk;       // the propagator's scratch (adaptive: y, y1, ystage, k1..k7, re and im = 20 d)
  double* channel_weight;  // C

  /// The adaptive propagator's scratch, the default of the overloads below (the largest).
  QTRAJ_HD static long long default_scratch(int max_dim) { return 20LL * max_dim; }

  /// Number of doubles a workspace needs with `scratch` doubles of propagator scratch.
  QTRAJ_HD static long long doubles_needed(int max_dim, int num_channels, long long scratch) {
    return 6LL * max_dim + scratch + num_channels;
  }
  QTRAJ_HD static long long doubles_needed(int max_dim, int num_channels) {
    return doubles_needed(max_dim, num_channels, default_scratch(max_dim));
  }
  /// Carves a workspace out of `base` (doubles_needed(max_dim, num_channels, scratch) doubles).
  QTRAJ_HD static TrajectoryWorkspace carve(double* base, int max_dim, int num_channels,
                                            long long scratch) {
    TrajectoryWorkspace w;
    const long long d = max_dim;
    w.psi_re = base;
    w.psi_im = base + d;
    w.tmp_re = base + 2 * d;
    w.tmp_im = base + 3 * d;
    w.coef_re = base + 4 * d;
    w.coef_im = base + 5 * d;
    w.rk = base + 6 * d;
    w.channel_weight = base + 6 * d + scratch;
    (void)num_channels;
    return w;
  }
  QTRAJ_HD static TrajectoryWorkspace carve(double* base, int max_dim, int num_channels) {
    return carve(base, max_dim, num_channels, default_scratch(max_dim));
  }
};

/// The workspace of propagator P (P::scratch_doubles(max_dim) doubles of scratch).
template <class P>
QTRAJ_HD long long workspace_doubles(int max_dim, int num_channels) {
  return TrajectoryWorkspace::doubles_needed(max_dim, num_channels, P::scratch_doubles(max_dim));
}
template <class P>
QTRAJ_HD TrajectoryWorkspace carve_workspace(double* base, int max_dim, int num_channels) {
  return TrajectoryWorkspace::carve(base, max_dim, num_channels, P::scratch_doubles(max_dim));
}

/// Where a trajectory writes its results. obs is num_times x (2 M): row t holds the normalised
/// <J_i^z> (columns 0..M-1) and <J_i^+ J_i^-> (columns M..2M-1) at times[t]. Jumps: the first
/// jump_capacity jumps are stored (time, channel); channel_counts[c] counts all jumps of channel c.
/// Written by rank 0 only.
struct TrajectoryOutput {
  const double* times = nullptr;  // the output grid, ascending, times[0] >= 0
  int num_times = 0;
  double* obs = nullptr;
  double* jump_time = nullptr;
  int* jump_channel = nullptr;
  int jump_capacity = 0;
  int* channel_counts = nullptr;  // C (zeroed by run_trajectory)
  // Host only (never read on a device): when set and true, run_trajectory returns within 1024
  // jumps with kTrajectoryIncomplete, so that a stop request ends even a long trajectory.
  const std::atomic<bool>* stop = nullptr;
  int row_stride = 0;  // doubles per obs row; 0: 2 M (a run with local processes has more columns)
  QTRAJ_HD int row_length(int num_domains) const {
    return row_stride > 0 ? row_stride : 2 * num_domains;
  }
};

}  // namespace qtraj::trajectory
