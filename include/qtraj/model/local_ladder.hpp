#pragma once
// Local (single-spin) processes in the permutation-invariant block basis (docs/local.md).
//
// A domain of N spins-1/2 under processes with the same rate on every spin keeps, for a
// permutation-invariant initial state, rho = sum_j sigma_j (x) 1_{d_j} / d_j over its total-spin
// blocks j (d_j copies of spin j). The per-spin dissipator sum_s D[o_s] maps block j into blocks
// j' = j - 1, j, j + 1 through operators that factorise: in the reduced state sigma it acts as
//   sum_{j'} D_{j -> j'}[A],  A |j, m> = a(j, m, j') |j', m + dm>,
// with dm = -1 (emission, o = s^-), +1 (pumping, s^+), 0 (dephasing, s^z Pauli). The functions
// below return a(j, m, j') WITHOUT the rate: multiply by sqrt(g_e), sqrt(g_p) or sqrt(g_phi / 4)
// (the run file's rates, include/qtraj/model/model.hpp LocalTable). They take 2j and 2m so that
// half-integer spins are exact, and return 0 where the target |j', m'> does not exist.
//
// Sum rules (each checked by tests/model/local_ladder_test.cpp):
//   sum_{j'} a_e(j, m, j')^2 = N/2 + m    (= <sum_s s_s^+ s_s^->)
//   sum_{j'} a_p(j, m, j')^2 = N/2 - m
//   sum_{j'} a_phi(j, m, j')^2 = N        (sum_s (s^z_s)^2 = N)
// so the no-jump generator gains, per domain, the diagonal
//   K_local = [g_e (J^z + N/2) + g_p (N/2 - J^z)] / 2 + g_phi N / 8
// (local_no_jump_rate), and the dephasing jump rate is the constant g_phi N / 4.
#include <math.h>

#include "qtraj/hd.hpp"

namespace qtraj {

enum class LocalProcess : int { emission = 0, pumping = 1, dephasing = 2 };
constexpr int kNumLocalProcesses = 3;

/// The change of m of a process: -1, +1, 0.
QTRAJ_HD inline int local_process_dm(LocalProcess p) {
  return p == LocalProcess::emission ? -1 : (p == LocalProcess::pumping ? 1 : 0);
}

namespace detail {

/// Emission's amplitude |j, m> -> |j', m - 1>, j' = j + dj (dj in {-1, 0, +1}); doubles hold
/// j = two_j / 2 and m = two_m / 2 exactly.
QTRAJ_HD inline double emission_amplitude(double half_n, double j, double m, int dj) {
  if (m - 1 < -(j + dj) - 1e-9 || j + dj < -1e-9) return 0.0;  // |j', m - 1> must exist
  double a2 = 0.0;
  if (dj == 0) {
    if (j <= 0) return 0.0;
    a2 = (half_n + 1) * (j + m) * (j - m + 1) / (2 * j * (j + 1));
  } else if (dj == -1) {
    if (j <= 0.5 - 1e-9 || m - 1 < -(j - 1) - 1e-9) return 0.0;
    a2 = (half_n + j + 1) * (j + m) * (j + m - 1) / (2 * j * (2 * j + 1));
  } else if (dj == 1) {
    if (j + 1 > half_n + 1e-9) return 0.0;
    a2 = (half_n - j) * (j - m + 1) * (j - m + 2) / (2 * (j + 1) * (2 * j + 1));
  } else {
    return 0.0;
  }
  return a2 > 0.0 ? sqrt(a2) : 0.0;
}

/// Dephasing's (Pauli s^z) amplitude |j, m> -> |j', m>. The j' = j amplitude carries the sign of
/// m; the j -> j -+ 1 ones are taken >= 0 (one sign per (j, j'): the dissipator is quadratic in A).
QTRAJ_HD inline double dephasing_amplitude(double half_n, double j, double m, int dj) {
  if (dj == 0) {
    if (j <= 0) return 0.0;
    return 2 * m * sqrt((half_n + 1) / (2 * j * (j + 1)));
  }
  if (dj == -1) {
    if (j <= 0.5 - 1e-9 || fabs(m) > j - 1 + 1e-9) return 0.0;
    const double a2 = 2 * (half_n + j + 1) * (j * j - m * m) / (j * (2 * j + 1));
    return a2 > 0.0 ? sqrt(a2) : 0.0;
  }
  if (dj == 1) {
    if (j + 1 > half_n + 1e-9) return 0.0;
    const double a2 = 2 * (half_n - j) * ((j + 1) * (j + 1) - m * m) / ((j + 1) * (2 * j + 1));
    return a2 > 0.0 ? sqrt(a2) : 0.0;
  }
  return 0.0;
}

}  // namespace detail

/// a(j, m, j') of process p for a domain of n_spins spins: the amplitude of
/// |j' = j + dj, m + local_process_dm(p)> in A |j, m>, without the rate (see above).
/// Pumping is emission mirrored: a_p(j, m, j') = a_e(j, -m, j').
QTRAJ_HD inline double local_ladder_amplitude(LocalProcess p, long long n_spins, long long two_j,
                                              long long two_m, int dj) {
  const double half_n = 0.5 * static_cast<double>(n_spins);
  const double j = 0.5 * static_cast<double>(two_j), m = 0.5 * static_cast<double>(two_m);
  switch (p) {
    case LocalProcess::emission: return detail::emission_amplitude(half_n, j, m, dj);
    case LocalProcess::pumping: return detail::emission_amplitude(half_n, j, -m, dj);
    case LocalProcess::dephasing: return detail::dephasing_amplitude(half_n, j, m, dj);
  }
  return 0.0;
}

/// The diagonal the local processes add to a domain's no-jump generator K at |j, m> (any j):
/// [g_e (m + N/2) + g_p (N/2 - m)] / 2 + g_phi N / 8.
QTRAJ_HD inline double local_no_jump_rate(double emission, double pumping, double dephasing,
                                          long long n_spins, long long two_m) {
  const double half_n = 0.5 * static_cast<double>(n_spins), m = 0.5 * static_cast<double>(two_m);
  return 0.5 * (emission * (m + half_n) + pumping * (half_n - m)) + 0.125 * dephasing * 2 * half_n;
}

/// Degeneracy d_j of spin j = two_j / 2 among N spins-1/2, as its logarithm (lgamma; exact enough
/// for weights at any N): d_j = N! (2j + 1) / ((N/2 - j)! (N/2 + j + 1)!).
inline double log_spin_degeneracy(long long n_spins, long long two_j) {
  const double n = static_cast<double>(n_spins), tj = static_cast<double>(two_j);
  return lgamma(n + 1) + log(tj + 1) - lgamma((n - tj) / 2 + 1) - lgamma((n + tj) / 2 + 2);
}

}  // namespace qtraj
