#pragma once
// Local (per-spin) processes in a trajectory (docs/local.md, "Trajectories"), host-device and
// team-parallel like sector_ops.hpp.
//
// A trajectory lives in one block b = (j_1..j_M) at a time (a SystemView of that j vector). In the
// reduced block state the per-spin dissipators of domain i act through the operators
//   A_{i,p,dj} |j_i, m_i> = sqrt(g_p') a_p(j_i, m_i, j_i + dj) |j_i + dj, m_i + dm_p>
// (local_ladder.hpp: p = emission, pumping, dephasing; dm = -1, +1, 0; g' = g_e, g_p, g_phi / 4),
// nine channels per domain, indexed l = (3 i + p) 3 + dj + 1 after the C collective channels.
// Each A maps distinct basis states to distinct basis states, so ||A psi||^2 = sum_s g' a^2 |psi_s|^2
// needs no image vector, and K gains the diagonal sum_i local_no_jump_rate(g_e, g_p, g_phi, N_i, m_i)
// (= half the summed weights of the nine channels: the sum rules of local_ladder.hpp).
// Internal sectors: the bundle's k_i = j_i + m_i, so A_{i,p,dj} moves sector n to n + dj + dm.
#include <math.h>

#include <cstdint>

#include "qtraj/model/local_ladder.hpp"
#include "qtraj/trajectory/sector_ops.hpp"

namespace qtraj::trajectory {

constexpr int kLocalChannelsPerDomain = 9;  // 3 processes x dj in {-1, 0, +1}

QTRAJ_HD inline int local_channel_index(int domain, int process, int dj) {
  return (3 * domain + process) * 3 + dj + 1;
}
QTRAJ_HD inline int local_channel_domain(int l) { return l / kLocalChannelsPerDomain; }
QTRAJ_HD inline int local_channel_process(int l) { return (l / 3) % 3; }
QTRAJ_HD inline int local_channel_dj(int l) { return l % 3 - 1; }

/// g' of process p on domain i: g_e, g_p, or g_phi / 4 (Pauli s^z, docs/local.md).
QTRAJ_HD inline double local_rate_factor(const SystemView& sys, int i, int p) {
  const double g = sys.local_rates[3 * i + p];
  return p == 2 ? 0.25 * g : g;
}
QTRAJ_HD inline bool domain_has_local(const SystemView& sys, int i) {
  const double* r = sys.local_rates + 3 * i;
  return r[0] > 0.0 || r[1] > 0.0 || r[2] > 0.0;
}

/// The local processes' diagonal of K at global state s (0 without local processes).
QTRAJ_HD inline double local_no_jump_diagonal(const SystemView& sys, std::int64_t s) {
  if (!sys.local_rates) return 0.0;
  double v = 0.0;
  for (int i = 0; i < sys.num_domains; ++i) {
    if (!domain_has_local(sys, i)) continue;
    const double* r = sys.local_rates + 3 * i;
    const long long two_m = 2LL * sys.k[s * sys.num_domains + i] - sys.two_j[i];
    v += local_no_jump_rate(r[0], r[1], r[2], static_cast<long long>(sys.n_spins[i]), two_m);
  }
  return v;
}

/// Sector-local index of the state |k> (sum k = n) in sys: states of a sector are ordered
/// lexicographically in (k_1..k_M) (DickeSpace), so the rank adds, per domain i, the completions
/// of domains i+1.. that follow a smaller k_i: P_{i+1}(rem) - P_{i+1}(rem - k_i).
/// k_of(i) gives k_i. Returns -1 if some k_i is out of range.
template <class KOf>
QTRAJ_HD std::int64_t sector_rank(const SystemView& sys, int n, const KOf& k_of) {
  const int width = sys.max_excitation + 1;
  std::int64_t rank = 0;
  int rem = n;
  for (int i = 0; i < sys.num_domains; ++i) {
    const int k = k_of(i);
    if (k < 0 || k > sys.two_j[i] || k > rem) return -1;
    const std::int64_t* p = sys.completions + static_cast<std::int64_t>(i + 1) * width;
    rank += p[rem] - (rem - k >= 0 ? p[rem - k] : 0);  // completions of rem - x, x = 0..k-1
    rem -= k;
  }
  return rem == 0 ? rank : -1;
}

/// Weights w_l = ||A_l psi||^2 of the 9 M local channels into w[0 .. 9 M) for the unnormalised
/// psi in sector n (0 where the target block or state does not exist). Returns their sum (every
/// rank). One pass over the state per domain with local processes.
template <class Team>
QTRAJ_HD double local_channel_weights(Team& team, const SystemView& sys, int n, const double* re,
                                      const double* im, bool cplx, double* w) {
  QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team);
  const int m = sys.num_domains, d = sys.sector_dim(n);
  const std::int64_t begin = sys.sector_begin[n];
  double total = 0.0;
  for (int i = 0; i < m; ++i) {
    double acc[kLocalChannelsPerDomain];
    for (int q = 0; q < kLocalChannelsPerDomain; ++q) acc[q] = 0.0;
    const bool active = domain_has_local(sys, i);
    if (active) {
      const long long n_i = static_cast<long long>(sys.n_spins[i]);
      for (int a = team.rank(); a < d; a += team.size()) {
        double p2 = re[a] * re[a];
        if (cplx) p2 += im[a] * im[a];
        const long long two_m = 2LL * sys.k[(begin + a) * m + i] - sys.two_j[i];
        for (int p = 0; p < 3; ++p) {
          if (!(sys.local_rates[3 * i + p] > 0.0)) continue;
          for (int dj = -1; dj <= 1; ++dj) {
            const double amp = local_ladder_amplitude(static_cast<LocalProcess>(p), n_i,
                                                      sys.two_j[i], two_m, dj);
            acc[3 * p + dj + 1] += amp * amp * p2;
          }
        }
      }
    }
    for (int q = 0; q < kLocalChannelsPerDomain; ++q) {
      const double v = active ? team.reduce_sum(acc[q]) * local_rate_factor(sys, i, q / 3) : 0.0;
      if (team.rank() == 0) w[kLocalChannelsPerDomain * i + q] = v;
      total += v;
    }
  }
  team.sync();
  return total;
}

/// out = A_l psi: psi in sector n of `from`, out in sector n_to = n + dj + dm of `to` (the block
/// with j_i + dj; `to` may be `from` when dj = 0), in to's sector layout (scatter: A_l is
/// injective on basis states). Returns ||out||^2 (every rank).
template <class Team>
QTRAJ_HD double apply_local_channel(Team& team, const SystemView& from, int n, const SystemView& to,
                                    int l, const double* in_re, const double* in_im, bool cplx,
                                    double* out_re, double* out_im) {
  QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team);
  const int m = from.num_domains, i = local_channel_domain(l), p = local_channel_process(l);
  const int dj = local_channel_dj(l);
  const int shift = dj + local_process_dm(static_cast<LocalProcess>(p));
  const int n_to = n + shift;
  const int d_to = to.sector_dim(n_to), d = from.sector_dim(n);
  for (int a = team.rank(); a < d_to; a += team.size()) {
    out_re[a] = 0.0;
    if (cplx) out_im[a] = 0.0;
  }
  team.sync();
  const std::int64_t begin = from.sector_begin[n];
  const long long n_i = static_cast<long long>(from.n_spins[i]);
  const double scale = ::sqrt(local_rate_factor(from, i, p));
  double local = 0.0;
  for (int a = team.rank(); a < d; a += team.size()) {
    const int* kk = from.k + (begin + a) * m;
    const long long two_m = 2LL * kk[i] - from.two_j[i];
    const double amp = scale * local_ladder_amplitude(static_cast<LocalProcess>(p), n_i,
                                                      from.two_j[i], two_m, dj);
    if (amp == 0.0) continue;
    const std::int64_t b =
        sector_rank(to, n_to, [&](int q) { return q == i ? kk[q] + shift : kk[q]; });
    if (b < 0) continue;
    const double re = amp * in_re[a], im = cplx ? amp * in_im[a] : 0.0;
    out_re[b] = re;
    if (cplx) out_im[b] = im;
    local += re * re + im * im;
  }
  return team.reduce_sum(local);  // also the sync that publishes out
}

}  // namespace qtraj::trajectory
