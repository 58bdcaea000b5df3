// Rodas4: the L-stable, stiffly accurate Rosenbrock method of order 4(3) of Hairer & Wanner,
// "Solving Ordinary Differential Equations II" (2nd ed., 1996), sec. IV.7, in the transformed
// form of their code RODAS (stages k_i solved with one LU of W = I/(gamma h) - J per step).
// Autonomous systems only (the cumulant equations do not depend on t).
#include <Eigen/SparseLU>
#include <algorithm>
#include <cmath>
#include <limits>

#include "qtraj/error.hpp"
#include "qtraj/meanfield/rosenbrock.hpp"

namespace qtraj {
namespace meanfield {
namespace {

// Coefficients of RODAS4 as in Hairer's code rodas.f (method 1), transformed form.
constexpr double kGamma = 0.25;
constexpr double a21 = 1.544, a31 = 0.9466785280815826, a32 = 0.2557011698983284,
                 a41 = 3.314825187068521, a42 = 2.896124015972201, a43 = 0.9986419139977817,
                 a51 = 1.221224509226641, a52 = 6.019134481288629, a53 = 12.53708332932087,
                 a54 = -0.6878860361058950;
constexpr double c21 = -5.6688, c31 = -2.430093356833875, c32 = -0.2063599157091915,
                 c41 = -0.1073529058151375, c42 = -9.594562251023355, c43 = -20.47028614809616,
                 c51 = 7.496443313967647, c52 = -10.24680431464352, c53 = -33.99990352819905,
                 c54 = 11.70890893206160, c61 = 8.083246795921522, c62 = -7.981132988064893,
                 c63 = -31.52159432874371, c64 = 16.31930543123136, c65 = -6.058818238834054;

// The step loop, written once; `Linear` owns the Jacobian and the factorisation of
// W = I/(gamma h) - J: factor(y, 1/(gamma h)) and solve(b).
template <class Linear>
IntegratorStats integrate(const RhsFn& rhs, Linear& linear, Eigen::VectorXd y,
                          const std::vector<double>& times, double rtol, double atol,
                          const StoreFn& store, const MaxStepFn& max_step,
                          const StepCheckFn& check) {
  IntegratorStats stats;
  if (times.empty()) return stats;
  if (!(rtol > 0) || !(atol > 0))
    throw InputError("solver.rtol/atol", "", "tolerances must be positive");
  const Eigen::Index n = y.size();
  Eigen::VectorXd f0(n), f(n), ys(n), k1(n), k2(n), k3(n), k4(n), k5(n), k6(n), dy(n), ynew(n);

  double t = times[0];
  store(0, y);
  rhs(y, f0);
  ++stats.rhs_calls;

  auto weighted_rms = [&](const Eigen::VectorXd& v, const Eigen::VectorXd& a,
                          const Eigen::VectorXd& b) {
    double s = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double sc = atol + rtol * std::max(std::abs(a[i]), std::abs(b[i]));
      s += (v[i] / sc) * (v[i] / sc);
    }
    return n ? std::sqrt(s / static_cast<double>(n)) : 0.0;
  };

  // Initial step (Hairer & Wanner I, II.4, simplified): h = 0.01 ||y|| / ||f||, weighted.
  double h;
  {
    const double d0 = weighted_rms(y, y, y), d1 = weighted_rms(f0, y, y);
    h = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    if (times.size() > 1) h = std::min(h, times[1] - times[0]);
  }

  bool last_rejected = false;
  for (std::size_t out = 1; out < times.size(); ++out) {
    const double t_out = times[out];
    while (t < t_out) {
      // Land exactly on the output time; keep the controller's h for the next step.
      // (Split the remainder in two rather than leave a sliver for the next step.)
      // A cap from max_step counts as a clip: it says nothing about the controller's h.
      const double cap = max_step ? max_step(y) : std::numeric_limits<double>::infinity();
      const double hc = std::min(h, cap);
      const bool to_output = t + hc * (1 + 1e-12) >= t_out;
      const double hs = to_output ? t_out - t : (t + 2 * hc > t_out ? (t_out - t) / 2 : hc);
      const bool clipped = hs < h;
      if (!(hs > 0) || t + hs == t)
        throw Error("meanfield: step size underflow at t = " + std::to_string(t));

      linear.factor(y, 1.0 / (kGamma * hs));
      ++stats.jacobians;
      const double ih = 1.0 / hs;
      // W k_i = f(y + sum_j a_ij k_j) + (1/h) sum_j c_ij k_j
      k1 = linear.solve(f0);
      ys = y + a21 * k1;
      rhs(ys, f);
      k2 = linear.solve(f + (c21 * ih) * k1);
      ys = y + a31 * k1 + a32 * k2;
      rhs(ys, f);
      k3 = linear.solve(f + ih * (c31 * k1 + c32 * k2));
      ys = y + a41 * k1 + a42 * k2 + a43 * k3;
      rhs(ys, f);
      k4 = linear.solve(f + ih * (c41 * k1 + c42 * k2 + c43 * k3));
      dy = a51 * k1 + a52 * k2 + a53 * k3 + a54 * k4;
      ys = y + dy;
      rhs(ys, f);
      k5 = linear.solve(f + ih * (c51 * k1 + c52 * k2 + c53 * k3 + c54 * k4));
      dy += k5;
      ys = y + dy;  // the embedded order-3 solution
      rhs(ys, f);
      k6 = linear.solve(f + ih * (c61 * k1 + c62 * k2 + c63 * k3 + c64 * k4 + c65 * k5));
      ynew = ys + k6;  // order 4; k6 is the error estimate
      stats.rhs_calls += 5;

      double err = weighted_rms(k6, y, ynew);
      if (!std::isfinite(err) || !ynew.allFinite()) err = std::numeric_limits<double>::infinity();
      // Step-size factor for an error of order h^4, safety 0.9, limited to [0.2, 6].
      double fac = std::isfinite(err) ? 0.9 * std::pow(std::max(err, 1e-12), -0.25) : 0.2;
      fac = std::clamp(fac, 0.2, 6.0);
      if (err <= 1.0) {
        t = to_output ? t_out : t + hs;
        y = ynew;
        rhs(y, f0);
        ++stats.rhs_calls;
        ++stats.steps;
        if (check) check(t, y);
        if (last_rejected) fac = std::min(fac, 1.0);
        // A clipped step says nothing about how large the next may be unless it was the limit.
        const double hnew = hs * fac;
        h = clipped ? std::max(h, hnew) : hnew;
        last_rejected = false;
      } else {
        ++stats.rejected;
        h = hs * fac;
        last_rejected = true;
      }
    }
    store(out, y);
  }
  return stats;
}

struct DenseLinear {
  const JacFn& jac;
  Eigen::MatrixXd w;
  Eigen::PartialPivLU<Eigen::MatrixXd> lu;
  void factor(const Eigen::VectorXd& y, double diag) {
    jac(y, w);
    w = -w;
    w.diagonal().array() += diag;
    lu.compute(w);
  }
  Eigen::VectorXd solve(const Eigen::VectorXd& b) const { return lu.solve(b); }
};

struct SparseLinear {
  const SparseJacFn& jac;
  Eigen::SparseMatrix<double> w;
  Eigen::SparseLU<Eigen::SparseMatrix<double>, Eigen::COLAMDOrdering<int>> lu;
  bool analysed = false;
  void factor(const Eigen::VectorXd& y, double diag) {
    jac(y, w);  // fixed pattern containing the diagonal
    w *= -1.0;
    for (Eigen::Index k = 0; k < w.outerSize(); ++k) w.coeffRef(k, k) += diag;
    if (!analysed) {
      lu.analyzePattern(w);
      analysed = true;
    }
    lu.factorize(w);
    if (lu.info() != Eigen::Success)
      throw Error("meanfield: sparse LU failed: " + lu.lastErrorMessage());
  }
  Eigen::VectorXd solve(const Eigen::VectorXd& b) { return lu.solve(b); }
};

}  // namespace

IntegratorStats integrate_rodas4(const RhsFn& rhs, const JacFn& jac, Eigen::VectorXd y,
                                 const std::vector<double>& times, double rtol, double atol,
                                 const StoreFn& store, const MaxStepFn& max_step,
                                 const StepCheckFn& check) {
  DenseLinear linear{jac, {}, {}};
  return integrate(rhs, linear, std::move(y), times, rtol, atol, store, max_step, check);
}

IntegratorStats integrate_rodas4_sparse(const RhsFn& rhs, const SparseJacFn& jac, Eigen::VectorXd y,
                                        const std::vector<double>& times, double rtol, double atol,
                                        const StoreFn& store, const MaxStepFn& max_step,
                                        const StepCheckFn& check) {
  SparseLinear linear{jac, {}, {}};
  return integrate(rhs, linear, std::move(y), times, rtol, atol, store, max_step, check);
}

}  // namespace meanfield
}  // namespace qtraj
