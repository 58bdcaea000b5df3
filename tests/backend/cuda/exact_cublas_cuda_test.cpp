// The exact solver's dense products on cuBLAS (include/qtraj/backend/cuda_dense.hpp,
// docs/cuda.md section 4) against the host kernels (OpenBLAS where the build has it, else Eigen):
//  - each product, both transposes, beta = 0 (C not read: NaN there) and beta = 1 (accumulates,
//    upper triangle untouched), sizes 1, odd, non-square, and a (60,30,10)-sized 341, to 1e-13;
//  - basis_transfer (the transfer via the Dicke basis: cuBLAS and the sparse kernel) to 1e-12;
//  - whole time evolutions of (12,6,2) and (8,6,5,1) chains and a thermal star
//    (tests/exact/dense_device_cases.hpp) to 1e-10, with every V_n / G_c resident (no temporary
//    upload);
//  - solve_exact with solver.backend = "cuda": the attribute exact_dense_kernels names cuBLAS and
//    the device, and the observables equal the CPU run's to 1e-10.
// Skips without a CUDA device or a loadable cuBLAS (the test says which).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <Eigen/SparseCore>
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
  std::vector<double> work;
  for (const auto& [r, k] : std::vector<std::pair<int, int>>{
           {1, 1}, {7, 3}, {3, 7}, {33, 33}, {130, 97}, {341, 341}}) {
    // A device per size: a kept matrix must outlive its device (dense_device.hpp), and the next
    // size's matrices may reuse these addresses.
    const auto device = cuda::make_cublas_dense();
    if (r == 1) std::printf("[ cuBLAS ] %s\n", device->description().c_str());
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
    EXPECT_EQ(device->traffic().temporary_uploads, 0);
  }
  // An operand that was not kept still gives the right product (uploaded for that product).
  const auto device = cuda::make_cublas_dense();
  const Mat a = Mat::Random(6, 4), x = Mat::Identity(4, 4);
  Mat p(6, 4);
  exact::multiply_symmetric(DenseKernels::cublas, a.data(), 6, 4, x.data(), p.data(), device.get());
  EXPECT_LT((p - a).cwiseAbs().maxCoeff(), 1e-15);
  EXPECT_EQ(device->traffic().temporary_uploads, 1);
}

// basis_transfer (the transfer via the Dicke basis, all on the device) against Eigen: two source
// sectors of different sizes, two sparse operators from one of them.
TEST(CudaExactCublas, BasisTransferMatchesTheDefinition) {
  QTRAJ_REQUIRE_CUBLAS();
  const auto device = cuda::make_cublas_dense();
  const int d = 37;
  const std::vector<int> sizes = {45, 29};
  auto orthogonal = [](int n) { return Mat(Eigen::HouseholderQR<Mat>(Mat::Random(n, n)).householderQ()); };
  const Mat vt = orthogonal(d);
  device->keep(vt.data(), d, d);
  std::vector<Mat> v, x;
  std::vector<Eigen::SparseMatrix<double, Eigen::RowMajor>> ops;
  for (int ds : sizes) {
    v.push_back(orthogonal(ds));
    Mat m = Mat::Random(ds, ds);
    x.push_back(m + m.transpose());
  }
  for (int i = 0; i < 3; ++i) {  // ops 0, 1 from source 0; op 2 from source 1
    const int ds = sizes[i < 2 ? 0 : 1];
    Eigen::SparseMatrix<double, Eigen::RowMajor> b(d, ds);
    std::vector<Eigen::Triplet<double>> t;
    for (int a = 0; a < d; ++a)
      for (int e = 0; e < (a + i) % 3; ++e) t.emplace_back(a, (a * 5 + 11 * e + i) % ds, 0.5 + 0.1 * e);
    b.setFromTriplets(t.begin(), t.end());
    b.makeCompressed();
    ops.push_back(b);
  }
  for (std::size_t i = 0; i < v.size(); ++i) device->keep(v[i].data(), sizes[i], sizes[i]);
  for (const auto& b : ops)
    device->keep_sparse(&b, static_cast<int>(b.rows()), static_cast<int>(b.cols()),
                        b.outerIndexPtr(), b.innerIndexPtr(), b.valuePtr());
  const std::vector<exact::DenseDevice::BasisSource> sources = {
      {v[0].data(), sizes[0], x[0].data(), {&ops[0], &ops[1]}},
      {v[1].data(), sizes[1], x[1].data(), {&ops[2]}}};
  Mat s = Mat::Constant(d, d, 3.0);  // upper triangle stays 3
  device->basis_transfer(vt.data(), d, sources, s.data());
  Mat sum = Mat::Zero(d, d);
  for (int i = 0; i < 3; ++i) {
    const int src = i < 2 ? 0 : 1;
    const Mat w = v[src] * x[src] * v[src].transpose();
    sum += Mat(ops[i] * w * Mat(ops[i].transpose()));
  }
  const Mat expect = vt.transpose() * sum * vt;
  EXPECT_LT(lower_max_diff(s, expect), 1e-12 * expect.cwiseAbs().maxCoeff());
  EXPECT_EQ(s(0, d - 1), 3.0);
  EXPECT_EQ(device->traffic().temporary_uploads, 0);
}

TEST(CudaExactCublas, TimeEvolutionEqualsTheHostKernelsToTenDigits) {
  QTRAJ_REQUIRE_CUBLAS();
  const DenseKernels host = exact::default_dense_kernels();
  const exact::BlasThreads blas(1);
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

// Through solve(): (12,6,2) first domain excited, and (6,3,2) with a product initial state (a
// mixture over j: several components, each with its own SectorSystem and device).
TEST(CudaExactCublas, SolveExactOnCudaBackendEqualsCpu) {
  QTRAJ_REQUIRE_CUBLAS();
  for (const std::string system :
       {"domains = [12, 6, 2]\ninitial = [\"excited\", \"ground\", \"ground\"]\n",
        "domains = [6, 3, 2]\ninitial = [\"product 3\", \"ground\", \"ground\"]\n"}) {
    const std::string text = "[system]\n" + system +
                             "[time]\nend = 100.0\npoints = 51\n[solver]\nkind = \"exact\"\n";
    const Result cpu = solve(parse_run_config(text));
    const Result gpu = solve(parse_run_config(text, {"solver.backend=\"cuda\""}));
    const std::string kernels = std::get<std::string>(gpu.attributes.at("exact_dense_kernels"));
    std::printf("exact_dense_kernels = \"%s\" (CPU run: \"%s\"), %lld component(s)\n",
                kernels.c_str(),
                std::get<std::string>(cpu.attributes.at("exact_dense_kernels")).c_str(),
                static_cast<long long>(std::get<std::int64_t>(gpu.attributes.at("exact_components"))));
    EXPECT_EQ(kernels.rfind("cuBLAS ", 0), 0u) << kernels;
    ASSERT_EQ(gpu.jz_over_n_mean.data.size(), cpu.jz_over_n_mean.data.size());
    for (std::size_t i = 0; i < cpu.jz_over_n_mean.data.size(); ++i)
      EXPECT_NEAR(gpu.jz_over_n_mean.data[i], cpu.jz_over_n_mean.data[i], 1e-10) << system << i;
  }
}
