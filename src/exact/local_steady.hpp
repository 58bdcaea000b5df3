#pragma once
// Private to src/exact: the t = inf limit of the local exact solve with dephasing (nothing raises
// n: no pumping, nbar = 0), docs/local.md "Steady state".
//
// Math. With nothing raising the physical excitation n the generator is block lower triangular
// in n: dX_n/dt = L_n X_n + J_{n+1}(X_{n+1}), with L_n the sector's own part (the no-jump K of
// every channel plus dephasing's block maps j -> j, j +- 1 inside the sector) and J the jumps
// that lower n. In the weighted product <X, Y> = sum_b Tr(X_b^T Y_b) / d_b (d_b = prod_i d_{j_i},
// the full space's Hilbert-Schmidt product of the permutation-averaged operators) L_n is
// self-adjoint and negative semidefinite:
//   -L_n X = (K' X + X K') + (2 c X - sum_deph A X A^T),   K' = K - c,
// c = sum_i g_phi,i N_i / 8 (the dephasing part of K, the same in every block), the first term
// the no-jump part of the collective channels and local emission (K' = sum B^T B / 2 >= 0) and
// the second a dephasing Lindbladian (Hermitian collapse operators). So e^{L_n t} tends to the
// orthogonal projection P_0 onto ker L_n, and ker L_n = {X : K' X = 0, <X, L_n X> = 0}: X lives
// on the dark vectors of K' in each block (then every jump out of the sector annihilates it) and
// is a null vector of L_n's quadratic form there (a small dense matrix Q). Sweeping n from the top
// with R_n = X_n(0) + J_{n+1}(W_{n+1}):
//   X_n(inf) = P_0 R_n,   -L_n W_n = R_n - P_0 R_n   (W_n = int_0^inf (X_n(t) - X_n(inf)) dt,
// taken in the range of L_n: its kernel part is annihilated by every jump), solved by conjugate
// gradients in the weighted product, deflated by P_0 and preconditioned by the exact per-block
// solve of X -> K X + X K in K's eigenbasis (SPD: every eigenvalue of K is >= c > 0). The jumps out
// of W_n feed sector n - 1 and count the quanta of each channel.
#include <Eigen/Dense>
#include <cstdint>

#include "exact/local_system.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj::exact {

struct LocalSteadyStats {
  std::int64_t cg_iterations = 0;       // conjugate-gradient steps over every sector
  std::int64_t kernel_dimension = 0;    // sum over the sectors of dim ker L_n (symmetric part)
  std::int64_t largest_dark_space = 0;  // the largest dense quadratic form Q built
  double max_q_asymmetry = 0.0;  // max |Q - Q^T| / max(|Q|, l_max): 0 up to rounding (self-adjoint)
};

/// The dark space (symmetric matrices on K's dark vectors) of one sector may hold at most this
/// many dimensions by default; beyond it the solve refuses in one line (Q is dense).
inline constexpr std::int64_t kMaxLocalSteadyDarkDimension = 4000;

/// rho(inf) of `system` (a cascade model with dephasing) from the start y0: the state vector with
/// the sector matrices of rho(inf) and the accumulators holding the quanta over [0, inf).
/// dark_tolerance: K's eigenvalue l is dark when l - c <= tol max(l_max, c) in its sector, and
/// Q's when >= -tol max(max_pq |Q_pq|, l_max). Throws InputError (one line, naming `local`) when
/// a sector's dark space exceeds max_dark_dimension, Error when conjugate gradients do not
/// converge.
Eigen::VectorXd local_steady_dephasing(
    const LocalSystem& system, const Model& model, const Eigen::VectorXd& y0, double dark_tolerance,
    LocalSteadyStats& stats, std::int64_t max_dark_dimension = kMaxLocalSteadyDarkDimension);

}  // namespace qtraj::exact
