#pragma once
// Eigen-decomposition of a small real symmetric tridiagonal matrix T (the Lanczos matrix of the
// Krylov propagator, krylov_propagator.hpp), host-device, serial: T = Z diag(d) Z^T by the
// implicit QL algorithm with Wilkinson shifts (EISPACK tql2 / Numerical Recipes tqli), O(n^3)
// with the eigenvectors. n is at most a few tens here, so one thread does it.
#include <math.h>

#include "qtraj/hd.hpp"

namespace qtraj::trajectory {

/// In: d[0..n) the diagonal, e[0..n-1) the off-diagonal (e[i] = T(i, i+1)), z (n x n, row-major,
/// leading dimension n) anything. Out: d = eigenvalues (unordered), z(:, a) = the normalised
/// eigenvector of d[a] (z[k n + a] = component k), e destroyed. Returns false if some eigenvalue
/// did not converge in 60 QL sweeps (never seen for symmetric T; the caller then keeps what it has).
QTRAJ_HD inline bool tridiagonal_eigen(int n, double* d, double* e, double* z) {
  for (int k = 0; k < n * n; ++k) z[k] = 0.0;
  for (int k = 0; k < n; ++k) z[k * n + k] = 1.0;
  if (n > 0) e[n - 1] = 0.0;
  bool converged = true;
  for (int l = 0; l < n; ++l) {
    int iter = 0;
    int m;
    do {
      // Smallest m >= l with a negligible e[m]: T splits there.
      for (m = l; m < n - 1; ++m) {
        const double dd = ::fabs(d[m]) + ::fabs(d[m + 1]);
        if (::fabs(e[m]) <= 2.220446049250313e-16 * dd) break;
      }
      if (m != l) {
        if (iter++ == 60) {
          converged = false;
          break;
        }
        // Wilkinson shift from the leading 2x2 block, then a QL sweep of plane rotations m-1..l.
        double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
        double r = ::hypot(g, 1.0);
        g = d[m] - d[l] + e[l] / (g + (g >= 0.0 ? r : -r));
        double s = 1.0, c = 1.0, p = 0.0;
        int i;
        for (i = m - 1; i >= l; --i) {
          double f = s * e[i];
          const double b = c * e[i];
          e[i + 1] = (r = ::hypot(f, g));
          if (r == 0.0) {  // underflow: deflate and restart the sweep
            d[i + 1] -= p;
            e[m] = 0.0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2.0 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
          for (int k = 0; k < n; ++k) {
            f = z[k * n + i + 1];
            z[k * n + i + 1] = s * z[k * n + i] + c * f;
            z[k * n + i] = c * z[k * n + i] - s * f;
          }
        }
        if (r == 0.0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0.0;
      }
    } while (m != l);
  }
  return converged;
}

}  // namespace qtraj::trajectory
