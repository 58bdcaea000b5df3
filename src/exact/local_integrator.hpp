#pragma once
// Private to src/exact: the adaptive explicit Dormand-Prince 5(4) integrator of the local exact
// solve (docs/local.md "Exact"): y' = A y for a linear operator given by `apply`.
//
// Tableau: Dormand & Prince, J. Comput. Appl. Math. 6 (1980) 19 (first same as last). Error
// e = h sum_i (b_i - bhat_i) k_i in the weighted max norm |e_i| / (atol + rtol max(|y_i|, |y_new_i|))
// <= 1, step factor 0.9 err^(-1/5) clamped to [0.2, 5]. Steps end exactly on every output time
// (no dense output), so observe(k, y(times[k])) sees the integrated state itself. Explicit: a step
// is bounded by stability, h <~ 3.3 / (the largest decay rate), which the controller finds.
#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <vector>

namespace qtraj::exact {

struct ExplicitStats {
  std::int64_t steps = 0, rejected = 0, applications = 0;
};

using LinearApply = std::function<void(const Eigen::VectorXd& y, Eigen::VectorXd& out)>;

/// Integrates from times.front() to times.back() (ascending); observe(k, y) for every k in order
/// (k = 0 included). h0: the first step (e.g. 0.1 / the largest rate). progress(t) after each
/// accepted step if non-empty. Throws Error if the step size underflows.
ExplicitStats integrate_dopri5(const LinearApply& apply, Eigen::VectorXd y,
                               const std::vector<double>& times, double rtol, double atol,
                               double h0,
                               const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
                               const std::function<void(double)>& progress = {});

}  // namespace qtraj::exact
