#pragma once
// Private to src/exact: right-preconditioned restarted GMRES(m), the linear solver of the
// exact solver's implicit stages with raising channels (SectorSystem::solve_stage; the operator
// and its preconditioner are documented in include/qtraj/exact/sector_system.hpp).
//
// Math. Solves M x = b with a right preconditioner P: M P^{-1} u = b, x = P^{-1} u. A cycle starts
// from the true residual r_0 = b - M x_0, beta = |r_0|_2, v_1 = r_0 / beta and builds an
// orthonormal basis v_1 .. v_k of the Krylov space K_k(M P^{-1}, r_0) by the Arnoldi process with
// modified Gram-Schmidt, M P^{-1} v_j = sum_{i <= j + 1} h_ij v_i. Givens rotations, applied as
// the columns of the upper Hessenberg H come, reduce H to triangular R and turn beta e_1 into g;
// |g_{k+1}| is then the residual norm min_y |beta e_1 - H y|_2 = |b - M x_k|_2, so a cycle stops
// when |g_{k+1}| <= tol, at a breakdown (h_{k+1,k} = 0: the Krylov space is invariant and the
// minimiser exact), or after `restart` steps, and updates
//   x <- x + sum_i y_i P^{-1} v_i,   R y = g_1..k,
// with the P^{-1} v_i kept from the Arnoldi steps (no second preconditioner pass). Cycles repeat
// until the true residual |b - M x|_2 <= tol (converged) or max_iterations Arnoldi steps in all.
#include <Eigen/Dense>
#include <functional>

namespace qtraj::exact {

/// out = M x.
using GmresApply = std::function<void(const Eigen::VectorXd& x, Eigen::VectorXd& out)>;
/// pv = P^{-1} v and out = M P^{-1} v (the caller may form M pv from the preconditioner's work).
using GmresApplyPreconditioned =
    std::function<void(const Eigen::VectorXd& v, Eigen::VectorXd& pv, Eigen::VectorXd& out)>;

struct GmresResult {
  int iterations = 0;  // Arnoldi steps
  bool converged = false;
};

/// x: the initial guess on entry (an exact zero is not applied: r_0 = b), the last iterate on
/// return (also when not converged).
GmresResult gmres(const GmresApply& apply, const GmresApplyPreconditioned& apply_preconditioned,
                  const Eigen::VectorXd& b, Eigen::VectorXd& x, double tol, int restart,
                  int max_iterations);

}  // namespace qtraj::exact
