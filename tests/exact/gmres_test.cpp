// src/exact/gmres.hpp: restarted right-preconditioned GMRES against a dense LU solve.
#include <gtest/gtest.h>

#include <random>

#include "exact/gmres.hpp"

namespace qtraj::exact {
namespace {

struct Problem {
  Eigen::MatrixXd m;
  Eigen::VectorXd b;
};

// A nonsymmetric, well-conditioned n x n system (diagonally dominant on average, not strictly).
Problem make_problem(int n) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Problem p{Eigen::MatrixXd(n, n), Eigen::VectorXd(n)};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) p.m(i, j) = 0.1 * u(rng);
    p.m(i, i) += 2.0 + u(rng);
    p.b[i] = u(rng);
  }
  return p;
}

// M and the Jacobi preconditioner P = diag(M) as the two products gmres() takes.
struct Operators {
  GmresApply apply;
  GmresApplyPreconditioned preconditioned;
  explicit Operators(const Eigen::MatrixXd& m) {
    apply = [&m](const Eigen::VectorXd& x, Eigen::VectorXd& out) { out = m * x; };
    preconditioned = [&m](const Eigen::VectorXd& v, Eigen::VectorXd& pv, Eigen::VectorXd& out) {
      pv = v.cwiseQuotient(m.diagonal());
      out = m * pv;
    };
  }
};

TEST(ExactGmres, ConvergesThroughRestartsToTheLuSolution) {
  const Problem p = make_problem(80);
  const Operators ops(p.m);
  const double tol = 1e-11 * p.b.norm();
  Eigen::VectorXd x = Eigen::VectorXd::Zero(80);
  const GmresResult r = gmres(ops.apply, ops.preconditioned, p.b, x, tol, 8, 500);
  EXPECT_TRUE(r.converged);
  EXPECT_GT(r.iterations, 8);  // at least one restart
  EXPECT_LE((p.b - p.m * x).norm(), tol);
  const Eigen::VectorXd lu = p.m.partialPivLu().solve(p.b);
  EXPECT_LE((x - lu).norm(), 1e-9 * lu.norm());
}

TEST(ExactGmres, StopsAfterMaxIterationsWithoutConverging) {
  const Problem p = make_problem(80);
  const Operators ops(p.m);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(80);
  const GmresResult r = gmres(ops.apply, ops.preconditioned, p.b, x, 1e-14, 30, 3);
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.iterations, 3);
  // Three steps still reduce the residual (the minimiser over a 3-dimensional Krylov space).
  EXPECT_LT((p.b - p.m * x).norm(), p.b.norm());
}

TEST(ExactGmres, ExactGuessTakesNoStepAndBreakdownIsExact) {
  const Problem p = make_problem(20);
  const Operators ops(p.m);
  Eigen::VectorXd x = p.m.partialPivLu().solve(p.b);
  const Eigen::VectorXd x0 = x;
  GmresResult r = gmres(ops.apply, ops.preconditioned, p.b, x, 1e-8, 10, 100);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_EQ(x, x0);
  // M = 2 I: the Krylov space is invariant after one step (h_21 = 0), the solution exact.
  const Eigen::MatrixXd two = 2.0 * Eigen::MatrixXd::Identity(20, 20);
  const Operators diag(two);
  x.setZero();
  r = gmres(diag.apply, diag.preconditioned, p.b, x, 1e-12, 10, 100);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.iterations, 1);
  EXPECT_LE((x - 0.5 * p.b).norm(), 1e-14 * p.b.norm());
}

}  // namespace
}  // namespace qtraj::exact
