// Restarted right-preconditioned GMRES (src/exact/gmres.hpp).
#include "exact/gmres.hpp"

#include <cmath>
#include <vector>

namespace qtraj::exact {

GmresResult gmres(const GmresApply& apply, const GmresApplyPreconditioned& apply_preconditioned,
                  const Eigen::VectorXd& b, Eigen::VectorXd& x, double tol, int restart,
                  int max_iterations) {
  using Vec = Eigen::VectorXd;
  Vec res = Vec::Zero(b.size()), w = Vec::Zero(b.size());
  std::vector<Vec> basis(restart + 1), precond(restart);
  Eigen::MatrixXd hess = Eigen::MatrixXd::Zero(restart + 1, restart);
  Vec cs(restart), sn(restart), g(restart + 1);
  GmresResult out;
  int& iterations = out.iterations;
  while (!out.converged && iterations < max_iterations) {
    if (iterations == 0 && x.isZero(0.0)) {
      res = b;  // b - M 0, without applying M
    } else {
      apply(x, res);
      res = b - res;
    }
    double beta = res.norm();
    if (beta <= tol) {
      out.converged = true;
      break;
    }
    basis[0] = res / beta;
    g.setZero();
    g[0] = beta;
    int k = 0;
    for (; k < restart && iterations < max_iterations; ++k, ++iterations) {
      apply_preconditioned(basis[k], precond[k], w);
      for (int i = 0; i <= k; ++i) {  // modified Gram-Schmidt
        hess(i, k) = w.dot(basis[i]);
        w -= hess(i, k) * basis[i];
      }
      hess(k + 1, k) = w.norm();
      if (hess(k + 1, k) > 0) basis[k + 1] = w / hess(k + 1, k);
      for (int i = 0; i < k; ++i) {  // previous Givens rotations
        const double a = hess(i, k), c = hess(i + 1, k);
        hess(i, k) = cs[i] * a + sn[i] * c;
        hess(i + 1, k) = -sn[i] * a + cs[i] * c;
      }
      const double a = hess(k, k), c = hess(k + 1, k), rho = std::hypot(a, c);
      cs[k] = rho > 0 ? a / rho : 1.0;
      sn[k] = rho > 0 ? c / rho : 0.0;
      hess(k, k) = rho;
      hess(k + 1, k) = 0.0;
      g[k + 1] = -sn[k] * g[k];
      g[k] = cs[k] * g[k];
      if (std::abs(g[k + 1]) <= tol || rho == 0) {
        ++k;
        ++iterations;
        break;
      }
    }
    // x += P^{-1} V y with R y = g (upper triangular k x k).
    const Vec y = hess.topLeftCorner(k, k).triangularView<Eigen::Upper>().solve(g.head(k));
    for (int i = 0; i < k; ++i) x += y[i] * precond[i];
  }
  return out;
}

}  // namespace qtraj::exact
