#pragma once
// Private to src/exact: the collective-channel product of the local exact solve, shared by the
// time integration (local_system.cpp) and the dephased steady state (local_steady.cpp).
#include <Eigen/Dense>
#include <Eigen/SparseCore>

namespace qtraj::exact {

// target += scale * op X op^T (op sparse); returns tr(op X op^T). t: work matrix.
template <class Target>
double add_collective(const Eigen::SparseMatrix<double, Eigen::RowMajor>& op,
                      const Eigen::Map<const Eigen::MatrixXd>& x, Target&& target, double scale,
                      Eigen::MatrixXd& t) {
  t.noalias() = op * x;
  target.noalias() += scale * (t * op.transpose());
  double trace = 0.0;
  for (int r = 0; r < op.outerSize(); ++r)
    for (Eigen::SparseMatrix<double, Eigen::RowMajor>::InnerIterator it(op, r); it; ++it)
      trace += it.value() * t(r, it.col());
  return trace;
}

}  // namespace qtraj::exact
