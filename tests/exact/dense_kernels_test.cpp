// The exact solver's dense products on BLAS against Eigen (include/qtraj/exact/dense_kernels.hpp):
// each product to rounding, and whole time evolutions of the validation systems to 1e-10.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cstdio>
#include <complex>
#include <random>

#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/exact/esdirk.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {
namespace {

using exact::DenseKernels;
using Mat = Eigen::MatrixXd;

// Lower triangles only (the strictly upper part of congruence_lower's output is unspecified).
double lower_max_diff(const Mat& a, const Mat& b) {
  double e = 0.0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = j; i < a.rows(); ++i) e = std::max(e, std::abs(a(i, j) - b(i, j)));
  return e;
}

TEST(ExactDenseKernels, CongruenceAndProductsMatchTheDefinition) {
  if (!exact::blas_available()) GTEST_SKIP() << "built without CBLAS";
  const exact::BlasThreads blas(2);
  std::vector<double> work;
  for (const auto& [r, k] : std::vector<std::pair<int, int>>{{1, 1}, {7, 3}, {3, 7}, {64, 64},
                                                           {130, 97}}) {
    Mat a = Mat::Random(r, k), at = a.transpose(), x = Mat::Random(k, k);
    x = (x + x.transpose()).eval();
    const Mat c0 = Mat::Random(r, r);
    const Mat expect = a * x * a.transpose();
    const double scale = expect.cwiseAbs().maxCoeff();
    for (DenseKernels kern : {DenseKernels::eigen, DenseKernels::blas}) {
      for (bool trans : {false, true}) {
        Mat c = Mat::Constant(r, r, std::nan(""));  // beta = 0 must not read C
        exact::congruence_lower(kern, trans ? at.data() : a.data(), trans, r, k, x.data(), 0.0,
                                c.data(), work);
        EXPECT_LT(lower_max_diff(c, expect), 1e-13 * scale) << r << "x" << k << " " << trans;
        c = c0;  // beta = 1 accumulates
        exact::congruence_lower(kern, trans ? at.data() : a.data(), trans, r, k, x.data(), 1.0,
                                c.data(), work);
        EXPECT_LT(lower_max_diff(c, c0 + expect), 1e-13 * (scale + 1)) << r << "x" << k;
      }
      Mat p(r, k);
      exact::multiply_symmetric(kern, a.data(), r, k, x.data(), p.data());
      EXPECT_LT((p - a * x).cwiseAbs().maxCoeff(), 1e-13 * (a * x).cwiseAbs().maxCoeff());
      const Mat b = Mat::Random(r, 5);
      Mat q(k, 5);
      exact::multiply(kern, a.data(), true, k, r, b.data(), 5, q.data());
      EXPECT_LT((q - a.transpose() * b).cwiseAbs().maxCoeff(), 1e-13 * (1 + r));
    }
  }
}

// Populations at every output time of one time evolution with the given kernels.
std::vector<Eigen::VectorXd> evolve(const DickeSpace& space, const std::vector<Channel>& channels,
                                    const std::vector<std::complex<double>>& psi,
                                    const std::vector<double>& times, DenseKernels kernels,
                                    std::int64_t* steps) {
  const exact::SectorSystem system(space, channels, kernels);
  std::vector<Eigen::VectorXd> out;
  const auto stats = exact::integrate(system, system.initial_state(psi), times, 1e-8, 1e-10,
                                      [&](std::size_t, const Eigen::VectorXd& y) {
                                        Eigen::VectorXd p(space.dim() + 2);
                                        p << system.populations(y), system.exchanged(y).head(2);
                                        out.push_back(p);
                                      });
  *steps = stats.steps;
  return out;
}

TEST(ExactDenseKernels, BlasTimeEvolutionEqualsEigenToTenDigits) {
  if (!exact::blas_available()) GTEST_SKIP() << "built without CBLAS";
  const exact::BlasThreads blas(1);  // small blocks: threads would only add synchronisation
  struct Case {
    std::string name;
    std::vector<int> two_j;
    std::vector<Reservoir> reservoirs;
    bool coherent;  // a random complex psi over every sector, else the first domain excited
    double t_end;
  };
  const std::vector<Case> cases = {
      {"(12,6,2) chain", {12, 6, 2}, {Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{1, 2}, 1.0, 0.0}},
       false, 1000.0},
      {"(8,6,5,1) chain", {8, 6, 5, 1},
       {Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{1, 2}, 1.0, 0.0}, Reservoir{{2, 3}, 1.0, 0.0}},
       false, 50.0},
      {"(6,3,2) thermal star", {6, 3, 2},
       {Reservoir{{0, 1, 2}, 1.0, 0.3}, Reservoir{{1, 2}, 0.7, 0.1}}, false, 20.0},
      {"(5,4,2) coherent", {5, 4, 2}, {Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{1, 2}, 1.3, 0.0}},
       true, 30.0},
  };
  for (const Case& cs : cases) {
    Model model;
    model.spins.assign(cs.two_j.begin(), cs.two_j.end());
    model.reservoirs = cs.reservoirs;
    const auto channels = collapse_channels(model);
    const DickeSpace space(cs.two_j);
    std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
    if (cs.coherent) {
      std::mt19937 rng(11);
      std::normal_distribution<double> g;
      double norm = 0.0;
      for (auto& v : psi) {
        v = {g(rng), g(rng)};
        norm += std::norm(v);
      }
      for (auto& v : psi) v /= std::sqrt(norm);
    } else {
      std::vector<int> k(cs.two_j.size(), 0);
      k[0] = cs.two_j[0];
      psi[static_cast<std::size_t>(space.index(k))] = 1.0;
    }
    std::vector<double> times;
    for (int i = 0; i <= 40; ++i) times.push_back(cs.t_end * i / 40.0);
    std::int64_t steps_eigen = 0, steps_blas = 0;
    const auto ref = evolve(space, channels, psi, times, DenseKernels::eigen, &steps_eigen);
    const auto got = evolve(space, channels, psi, times, DenseKernels::blas, &steps_blas);
    ASSERT_EQ(ref.size(), times.size()) << cs.name;
    ASSERT_EQ(got.size(), times.size()) << cs.name;
    double worst = 0.0;
    for (std::size_t i = 0; i < times.size(); ++i)
      worst = std::max(worst, (got[i] - ref[i]).cwiseAbs().maxCoeff() /
                                  std::max(1.0, ref[i].cwiseAbs().maxCoeff()));
    std::printf("%s: BLAS vs Eigen max difference %.2e, steps %lld vs %lld\n", cs.name.c_str(),
                worst, static_cast<long long>(steps_blas), static_cast<long long>(steps_eigen));
    EXPECT_LT(worst, 1e-10) << cs.name;
    EXPECT_NEAR(static_cast<double>(steps_blas), static_cast<double>(steps_eigen),
                0.02 * steps_eigen + 1)
        << cs.name;
  }
}

}  // namespace
}  // namespace qtraj
