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

/// y.head(solved_size) = [(I - hg A)^{-1} rhs].head(solved_size); the entries after them are
/// accumulators that A never reads (the integrator sets them). Returns linear-solver iterations.
using StageSolve =
    std::function<std::int64_t(double hg, const Eigen::VectorXd& rhs, Eigen::VectorXd& y)>;

/// The same contract with the L-stable ESDIRK4(3)6L[2]SA of include/qtraj/exact/esdirk.hpp (its
/// tableau): stage i solves (I - h gamma A) Y_i = y + h sum_{j<i} a_ij F_j by `solve`, then
/// F_i = A Y_i and the accumulator entries Y_i = rhs + h gamma F_i; y_new = Y_5 (stiffly
/// accurate), error h sum_i (b_i - bhat_i) F_i, step factor 0.9 err^(-1/4) in [0.2, 5]. The step
/// is limited by accuracy, not by the stiffness. stats.applications counts stage solves.
ExplicitStats integrate_esdirk(const LinearApply& apply, const StageSolve& solve,
                               Eigen::Index solved_size, Eigen::VectorXd y, const std::vector<double>& times, double rtol,
                               double atol, double h0,
                               const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
                               const std::function<void(double)>& progress,
                               std::int64_t* linear_iterations);

}  // namespace qtraj::exact
