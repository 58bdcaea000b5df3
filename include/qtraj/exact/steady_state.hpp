#pragma once
// The exact zero-temperature steady state in one top-down sweep over the excitation sectors
// (derivation in docs/steady_state.md). The public entry point is solve_steady() in
// solvers.hpp; this header exposes the sweep for one fixed-j DickeSpace (tests, benchmarks).
//
// Math. With only lowering channels (all nbar_r = 0, no Hamiltonian) the diagonal blocks obey
//   rho_n' = -(K_n rho_n + rho_n K_n) + sum_c C_c rho_{n+1} C_c^T,   K_n = V diag(l) V^T >= 0.
// In K_n's eigenbasis (Y = V^T rho_n V) entry (a, b) decays at rate l_a + l_b. An eigenvector
// with l_a = 0 is dark: C_c v = 0 for every channel (v^T K v = 1/2 sum_c |C_c v|^2), so the dark
// part of rho_{n+1} never feeds sector n, and only the time integral of the decaying ("bright")
// part of rho_{n+1} matters. Integrating over t in [0, inf):
//   R_n  = rho_n(0) + sum_c C_c B_{n+1} C_c^T                      (Dicke basis)
//   B_n  = V [ (V^T R_n V)_ab / (l_a + l_b) for a or b bright, else 0 ] V^T
//                                        (= int_0^inf of the bright part of rho_n dt)
//   rho_n(inf) = V_D (V_D^T R_n V_D) V_D^T                         (V_D: the dark columns)
//   quanta emitted through channel c from sector n+1: Tr(C_c B_{n+1} C_c^T).
// An eigenvalue counts as dark when l_a <= dark_tolerance * max(l) of the same sector.
#include <Eigen/Dense>
#include <complex>
#include <cstdint>
#include <functional>
#include <vector>

#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {
namespace exact {

struct SteadyOptions {
  /// An eigenvalue l of K_n is dark (zero) when l <= dark_tolerance * l_max(K_n).
  double dark_tolerance = 1e-10;
  /// Threads that diagonalise the sectors ahead of the sweep (0: all hardware threads).
  int threads = 0;
  /// LAPACK's dsyevd (divide and conquer; used where the build has LAPACKE, see
  /// lapack_available()) or Eigen's SelfAdjointEigenSolver (always available).
  enum class Eigensolver { lapack, eigen };
  Eigensolver eigensolver = Eigensolver::lapack;
};

struct SteadyState {
  /// Steady populations <s|rho(inf)|s> over the DickeSpace index.
  Eigen::VectorXd populations;
  /// Quanta emitted through each channel over t in [0, inf) (channel order of the input).
  Eigen::VectorXd emitted;
  /// Trace and total excitation sum_n n Tr rho_n of the initial and of the steady state.
  double initial_trace = 0.0, steady_trace = 0.0;
  double initial_excitation = 0.0, steady_excitation = 0.0;
  /// Highest sector holding initial population (the sweep starts there; -1: none).
  int top_sector = -1;
  /// Eigenvalue diagnostics over the swept sectors with a non-zero K_n, relative to that
  /// sector's largest eigenvalue: the largest one counted as dark and the smallest counted as
  /// bright (the classification is safe when the two are many orders of magnitude apart).
  double max_dark_relative = 0.0;
  double min_bright_relative = 1.0;
};

/// Whether this build has LAPACK's dsyevd (else Eigensolver::lapack falls back to Eigen's).
bool lapack_available();

/// K = V diag(lambda) V^T for a symmetric K with the chosen solver (ascending eigenvalues);
/// false if it failed. What the sweep calls per sector (exposed for bench/bench_steady.cpp).
bool symmetric_eigen(Eigen::MatrixXd k, SteadyOptions::Eigensolver which, Eigen::VectorXd& lambda,
                     Eigen::MatrixXd& vectors);

/// Steady state of the pure initial state psi (amplitudes over the DickeSpace index; the
/// diagonal blocks Re(psi_n psi_n^+) are used: see the comment in sector_system.hpp). Every
/// channel must be lowering (zero temperature); throws Error otherwise. `progress` (may be
/// empty) is called with the fraction of the sweep's work done.
SteadyState steady_state(const DickeSpace& space, const std::vector<Channel>& channels,
                         const std::vector<std::complex<double>>& psi,
                         const SteadyOptions& options = {},
                         const std::function<void(double)>& progress = {});

}  // namespace exact
}  // namespace qtraj
