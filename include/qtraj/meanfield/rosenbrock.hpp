#pragma once
// The stiff integrator of the mean-field equations: Rodas4 with a dense or a sparse Jacobian.
#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <functional>
#include <vector>

namespace qtraj {
namespace meanfield {

/// Integrator statistics.
struct IntegratorStats {
  long long steps = 0, rejected = 0, rhs_calls = 0, jacobians = 0;
};

/// Rodas4 (Hairer & Wanner, Solving ODEs II, sec. IV.7): 6-stage, order 4 with an embedded
/// order-3 estimate, L-stable and stiffly accurate, so components decaying at rate 1e8 are damped
/// in steps of any size. Error per step is measured as the RMS over components of
/// err_j / (atol + rtol max(|y_j|, |y_j new|)) and kept <= 1.
/// Integrates y' = f(y) from t = times[0] and stores y at every entry of `times` (increasing)
/// through `store(index, y)`. Steps are clipped to land on the output times exactly.
using RhsFn = std::function<void(const Eigen::VectorXd&, Eigen::VectorXd&)>;
using JacFn = std::function<void(const Eigen::VectorXd&, Eigen::MatrixXd&)>;
using StoreFn = std::function<void(std::size_t, const Eigen::VectorXd&)>;
/// Optional step cap h <= max_step(y) (e.g. 1 / growth rate); empty means none.
using MaxStepFn = std::function<double(const Eigen::VectorXd&)>;
/// Optional check(t, y) after every accepted step (not only at output times); it may throw to
/// stop the integration (e.g. a closure's runaway guard); it cannot change y. Empty means none.
using StepCheckFn = std::function<void(double, const Eigen::VectorXd&)>;
IntegratorStats integrate_rodas4(const RhsFn& rhs, const JacFn& jac, Eigen::VectorXd y,
                                 const std::vector<double>& times, double rtol, double atol,
                                 const StoreFn& store, const MaxStepFn& max_step = {},
                                 const StepCheckFn& check = {});
/// The same method with a sparse Jacobian (fixed pattern, which must contain the diagonal) and
/// a sparse LU whose symbolic analysis is done once: for many domains (M^2 + M unknowns).
using SparseJacFn = std::function<void(const Eigen::VectorXd&, Eigen::SparseMatrix<double>&)>;
IntegratorStats integrate_rodas4_sparse(const RhsFn& rhs, const SparseJacFn& jac, Eigen::VectorXd y,
                                        const std::vector<double>& times, double rtol, double atol,
                                        const StoreFn& store, const MaxStepFn& max_step = {},
                                        const StepCheckFn& check = {});

}  // namespace meanfield
}  // namespace qtraj
