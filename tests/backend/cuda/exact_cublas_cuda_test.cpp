// The exact solver's dense products on cuBLAS (include/qtraj/backend/cuda_dense.hpp, issue 9
// item 3) against the host kernels (OpenBLAS where the build has it, else Eigen):
//  - each product, both transposes, beta = 0 (C not read: NaN there) and beta = 1 (accumulates,
//    upper triangle untouched), sizes 1, odd, non-square, and a (60,30,10)-sized 341, to 1e-13;
//  - whole time evolutions of (12,6,2) and (8,6,5,1) chains and a thermal star
//    (tests/exact/dense_device_cases.hpp) to 1e-10, with every V_n / G_c resident (no temporary
//    upload);
//  - solve_exact with solver.backend = "cuda": the attribute exact_dense_kernels names cuBLAS and
//    the device, and the observables equal the CPU run's to 1e-10.
// Skips without a CUDA device or a loadable cuBLAS (the test says which).
// Status when written: compiled with nvcc 13; NOT yet run on a GPU.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "exact/dense_device_cases.hpp"
#include "qtraj/backend/cuda_dense.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"

using namespace qtraj;
using exact::DenseKernels;
using Mat = Eigen::MatrixXd;

#define QTRAJ_REQUIRE_CUBLAS()                                         \
  do {                                                                 \
    std::string why;                                                   \
    if (!cuda::cublas_dense_available(&why)) GTEST_SKIP() << why;      \
    std::printf("[ cuBLAS ] %s\n", why.c_str());                       \
  } while (0)

namespace {

double lower_max_diff(const Mat& a, const Mat& b) {
  double e = 0.0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = j; i < a.rows(); ++i) e = std::max(e, std::abs(a(i, j) - b(i, j)));
  return e;
}

}  // namespace

TEST(CudaExactCublas, ProductsMatchTheDefinition) {
  QTRAJ_REQUIRE_CUBLAS();
  const auto device = cuda::make_cublas_dense();
  std::printf("[ cuBLAS ] %s\n", device->description().c_str());
  std::vector<double> work;
  for (const auto& [r, k] : std::vector<std::pair<int, int>>{
           {1, 1}, {7, 3}, {3, 7}, {33, 33}, {130, 97}, {341, 341}}) {
    Mat a = Mat::Random(r, k), at = a.transpose(), x = Mat::Random(k, k);
    x = (x + x.transpose()).eval();
    device->keep(a.data(), r, k);
    device->keep(at.data(), k, r);
    const Mat expect = a * x * a.transpose();
    const double scale = expect.cwiseAbs().maxCoeff();
    for (bool trans : {false, true}) {
      Mat c = Mat::Constant(r, r, std::nan(""));  // beta = 0 must not read C
      exact::congruence_lower(DenseKernels::cublas, trans ? at.data() : a.data(), trans, r, k,
                              x.data(), 0.0, c.data(), work, device.get());
      EXPECT_LT(lower_max_diff(c, expect), 1e-13 * scale) << r << "x" << k << " " << trans;
      const Mat c0 = Mat::Random(r, r);
      c = c0;  // beta = 1 accumulates; the strictly upper triangle stays as it was
      exact::congruence_lower(DenseKernels::cublas, trans ? at.data() : a.data(), trans, r, k,
                              x.data(), 1.0, c.data(), work, device.get());
      EXPECT_LT(lower_max_diff(c, c0 + expect), 1e-13 * (scale + 1)) << r << "x" << k;
      if (r > 1) EXPECT_EQ(c(0, r - 1), c0(0, r - 1)) << r << "x" << k;
    }
    Mat p(r, k);
    exact::multiply_symmetric(DenseKernels::cublas, a.data(), r, k, x.data(), p.data(),
                              device.get());
    EXPECT_LT((p - a * x).cwiseAbs().maxCoeff(), 1e-13 * (a * x).cwiseAbs().maxCoeff());
    const Mat b = Mat::Random(r, 5);
    Mat q(k, 5);
    exact::multiply(DenseKernels::cublas, a.data(), true, k, r, b.data(), 5, q.data(),
                    device.get());
    EXPECT_LT((q - a.transpose() * b).cwiseAbs().maxCoeff(), 1e-13 * (1 + r));
  }
  EXPECT_EQ(device->traffic().temporary_uploads, 0);
  // An operand that was not kept still gives the right product (uploaded for that product).
  const Mat a = Mat::Random(6, 4), x = Mat::Identity(4, 4);
  Mat p(6, 4);
  exact::multiply_symmetric(DenseKernels::cublas, a.data(), 6, 4, x.data(), p.data(), device.get());
  EXPECT_LT((p - a).cwiseAbs().maxCoeff(), 1e-15);
  EXPECT_EQ(device->traffic().temporary_uploads, 1);
}

TEST(CudaExactCublas, TimeEvolutionEqualsTheHostKernelsToTenDigits) {
  QTRAJ_REQUIRE_CUBLAS();
  const DenseKernels host = exact::default_dense_kernels();
  exact::configure_blas(1);
  for (const auto& cs : exact::testing::device_validation_cases()) {
    std::shared_ptr<exact::DenseDevice> device = cuda::make_cublas_dense();
    const auto ref = exact::testing::evolve_case(cs, host);
    const auto got = exact::testing::evolve_case(cs, DenseKernels::cublas, device);
    const double worst = exact::testing::max_relative_difference(got, ref);
    const auto& t = device->traffic();
    std::printf("%s: cuBLAS vs host kernels %.2e, steps %lld vs %lld; %lld products, %lld "
                "matrices resident (%.1f MB)\n",
                cs.name.c_str(), worst, static_cast<long long>(got.steps),
                static_cast<long long>(ref.steps), static_cast<long long>(t.products),
                static_cast<long long>(t.kept), t.resident_bytes / 1e6);
    EXPECT_LT(worst, 1e-10) << cs.name;
    EXPECT_NEAR(static_cast<double>(got.steps), static_cast<double>(ref.steps),
                0.02 * ref.steps + 1)
        << cs.name;
    EXPECT_EQ(t.temporary_uploads, 0) << cs.name;
  }
}

TEST(CudaExactCublas, SolveExactOnCudaBackendEqualsCpu) {
  QTRAJ_REQUIRE_CUBLAS();
  const std::string text =
      "[system]\ndomains = [12, 6, 2]\ninitial = [\"excited\", \"ground\", \"ground\"]\n"
      "[time]\nend = 100.0\npoints = 51\n[solver]\nkind = \"exact\"\n";
  const Result cpu = solve(parse_run_config(text));
  const Result gpu = solve(parse_run_config(text, {"solver.backend=\"cuda\""}));
  const std::string kernels = std::get<std::string>(gpu.attributes.at("exact_dense_kernels"));
  std::printf("exact_dense_kernels = \"%s\" (CPU run: \"%s\")\n", kernels.c_str(),
              std::get<std::string>(cpu.attributes.at("exact_dense_kernels")).c_str());
  EXPECT_EQ(kernels.rfind("cuBLAS ", 0), 0u) << kernels;
  ASSERT_EQ(gpu.jz_over_n_mean.data.size(), cpu.jz_over_n_mean.data.size());
  for (std::size_t i = 0; i < cpu.jz_over_n_mean.data.size(); ++i)
    EXPECT_NEAR(gpu.jz_over_n_mean.data[i], cpu.jz_over_n_mean.data[i], 1e-10) << i;
}
