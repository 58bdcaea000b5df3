// DenseKernels::cublas without a GPU (include/qtraj/exact/dense_device.hpp): a host DenseDevice
// that holds its own copies of the kept operands and refuses (throws) any product whose operand
// was not kept, standing in for cuBLAS. It checks the part of the cuBLAS path that is not a
// kernel: SectorSystem keeps every V_n and G_c it uses once at set-up and never changes them, every
// stage product goes through the device with a resident operand (only X and the result move),
// and whole time evolutions equal the host kernels' to 1e-10. The same evolutions on cuBLAS:
// tests/backend/cuda/exact_cublas_cuda_test.cpp. Also: the one-line refusal of
// solver.backend = "cuda" where cuBLAS cannot run.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "exact/dense_device_cases.hpp"
#include "qtraj/backend/cuda_dense.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/sparse_congruence.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

using exact::DenseKernels;
using Mat = Eigen::MatrixXd;
using Map = Eigen::Map<Mat>;
using ConstMap = Eigen::Map<const Mat>;

/// The products of dense_device.hpp with Eigen on private copies of the kept operands.
class HostDevice final : public exact::DenseDevice {
 public:
  std::string description() const override { return "host emulation"; }
  void keep(const double* host, int rows, int cols) override {
    if (rows <= 0 || cols <= 0 || is_kept(host, rows, cols)) return;
    kept_[host] = ConstMap(host, rows, cols);
    traffic_.resident_bytes += static_cast<std::int64_t>(rows) * cols * sizeof(double);
    ++traffic_.kept;
  }
  bool is_kept(const double* host, int rows, int cols) const override {
    const auto it = kept_.find(host);
    return it != kept_.end() && it->second.rows() == rows && it->second.cols() == cols;
  }
  void congruence_lower(const double* a, bool transpose_a, int r, int k, const double* x,
                        double beta, double* c) override {
    const Mat& am = operand(a, transpose_a ? k : r, transpose_a ? r : k);
    const Mat opa = transpose_a ? Mat(am.transpose()) : am;
    const Mat prod = opa * ConstMap(x, k, k) * opa.transpose();
    Map cm(c, r, r);
    for (int j = 0; j < r; ++j)  // lower triangle only; beta = 0 does not read C
      for (int i = j; i < r; ++i) cm(i, j) = (beta != 0.0 ? beta * cm(i, j) : 0.0) + prod(i, j);
    moved(static_cast<std::int64_t>(k) * k + (beta != 0.0 ? r * r : 0), r * r);
  }
  void multiply_symmetric(const double* a, int r, int k, const double* x, double* c) override {
    Map(c, r, k) = operand(a, r, k) * ConstMap(x, k, k);
    moved(static_cast<std::int64_t>(k) * k, static_cast<std::int64_t>(r) * k);
  }
  void multiply(const double* a, bool transpose_a, int m, int k, const double* b, int n,
                double* c) override {
    const Mat& am = operand(a, transpose_a ? k : m, transpose_a ? m : k);
    if (transpose_a)
      Map(c, m, n) = am.transpose() * ConstMap(b, k, n);
    else
      Map(c, m, n) = am * ConstMap(b, k, n);
    moved(static_cast<std::int64_t>(k) * n, static_cast<std::int64_t>(m) * n);
  }
  void keep_sparse(const void* key, int rows, int cols, const int* row_ptr, const int* col,
                   const double* val) override {
    if (rows <= 0 || cols <= 0 || sparse_.count(key)) return;
    Csr& m = sparse_[key];
    m.rows = rows;
    m.cols = cols;
    m.row_ptr.assign(row_ptr, row_ptr + rows + 1);
    m.col.assign(col, col + row_ptr[rows]);
    m.val.assign(val, val + row_ptr[rows]);
    ++traffic_.kept;
  }
  // The device's steps on the host: lower(W) = V X V^T with the upper triangle poisoned (NaN:
  // the sparse step must read only the lower one), lower(S) by sparse_congruence_entry, then
  // lower(s) = V^T S V.
  void basis_transfer(const double* v_target, int d, const std::vector<BasisSource>& sources,
                      double* s) override {
    Mat sum = Mat::Zero(d, d);
    for (const BasisSource& src : sources) {
      const Mat& v = operand(src.v, src.ds, src.ds);
      Mat w = v * ConstMap(src.x, src.ds, src.ds) * v.transpose();
      w.triangularView<Eigen::StrictlyUpper>().setConstant(std::nan(""));
      for (const void* key : src.operators) {
        const auto it = sparse_.find(key);
        if (it == sparse_.end() || it->second.rows != d || it->second.cols != src.ds)
          throw std::logic_error("HostDevice: a sparse operator was not kept");
        const Csr& b = it->second;
        for (int a = 0; a < d; ++a)
          for (int ap = 0; ap <= a; ++ap)
            sum(a, ap) += exact::sparse_congruence_entry(b.row_ptr.data(), b.col.data(),
                                                         b.val.data(), w.data(), src.ds, a, ap);
      }
      moved(static_cast<std::int64_t>(src.ds) * src.ds, 0);
      --traffic_.products;
    }
    sum.triangularView<Eigen::StrictlyUpper>() = sum.transpose();
    const Mat& vt = operand(v_target, d, d);
    const Mat r = vt.transpose() * sum * vt;
    Map sm(s, d, d);
    for (int j = 0; j < d; ++j)
      for (int i = j; i < d; ++i) sm(i, j) = r(i, j);
    moved(0, static_cast<std::int64_t>(d) * d);
  }

 private:
  struct Csr {
    int rows = 0, cols = 0;
    std::vector<int> row_ptr, col;
    std::vector<double> val;
  };
  const Mat& operand(const double* a, int rows, int cols) {
    const auto it = kept_.find(a);
    if (it == kept_.end() || it->second.rows() != rows || it->second.cols() != cols)
      throw std::logic_error("HostDevice: a product's operand was not kept");
    return it->second;
  }
  void moved(std::int64_t in, std::int64_t out) {
    traffic_.bytes_to_device += in * static_cast<std::int64_t>(sizeof(double));
    traffic_.bytes_from_device += out * static_cast<std::int64_t>(sizeof(double));
    ++traffic_.products;
  }
  std::unordered_map<const double*, Mat> kept_;
  std::unordered_map<const void*, Csr> sparse_;
};

// Lower triangles only (the strictly upper part of congruence_lower's output is left as it was).
double lower_max_diff(const Mat& a, const Mat& b) {
  double e = 0.0;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = j; i < a.rows(); ++i) e = std::max(e, std::abs(a(i, j) - b(i, j)));
  return e;
}

TEST(ExactDenseDevice, FreeFunctionsRunOnTheDeviceAndNeedOne) {
  HostDevice device;
  std::vector<double> work;
  const int r = 9, k = 5;
  Mat a = Mat::Random(r, k), at = a.transpose(), x = Mat::Random(k, k);
  x = (x + x.transpose()).eval();
  device.keep(a.data(), r, k);
  device.keep(at.data(), k, r);
  const Mat expect = a * x * a.transpose();
  for (bool trans : {false, true}) {
    Mat c = Mat::Constant(r, r, 7.0);  // the upper triangle must stay 7
    exact::congruence_lower(DenseKernels::cublas, trans ? at.data() : a.data(), trans, r, k,
                            x.data(), 0.0, c.data(), work, &device);
    EXPECT_LT(lower_max_diff(c, expect), 1e-13 * expect.cwiseAbs().maxCoeff());
    EXPECT_EQ(c(0, r - 1), 7.0);
  }
  Mat p(r, k);
  exact::multiply_symmetric(DenseKernels::cublas, a.data(), r, k, x.data(), p.data(), &device);
  EXPECT_LT((p - a * x).cwiseAbs().maxCoeff(), 1e-13 * (a * x).cwiseAbs().maxCoeff());
  EXPECT_EQ(device.traffic().products, 3);
  EXPECT_EQ(device.traffic().kept, 2);
  // DenseKernels::cublas without a device is an error, not a silent host product.
  Mat c(r, r);
  EXPECT_THROW(exact::congruence_lower(DenseKernels::cublas, a.data(), false, r, k, x.data(), 0.0,
                                       c.data(), work),
               Error);
  EXPECT_THROW(exact::multiply_symmetric(DenseKernels::cublas, a.data(), r, k, x.data(), p.data()),
               Error);
  Model model;
  model.spins = {2, 1};
  EXPECT_THROW(exact::SectorSystem(DickeSpace({2, 1}), collapse_channels(model),
                                   DenseKernels::cublas),
               Error);
}

// The device's sparse step, one entry at a time, against Eigen's sparse product: rows with 0, 1
// and 2 entries (a collective operator on one or two domains), non-square, W's upper triangle
// poisoned.
TEST(ExactDenseDevice, SparseCongruenceEntryMatchesTheSparseProduct) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const auto& [d, ds] : std::vector<std::pair<int, int>>{{1, 1}, {5, 7}, {17, 9}, {40, 40}}) {
    Eigen::SparseMatrix<double, Eigen::RowMajor> b(d, ds);
    std::vector<Eigen::Triplet<double>> entries;
    for (int a = 0; a < d; ++a)
      for (int e = 0; e < a % 3; ++e) entries.emplace_back(a, (a * 7 + 3 * e) % ds, u(rng));
    b.setFromTriplets(entries.begin(), entries.end());
    b.makeCompressed();
    Mat w = Mat::Random(ds, ds);
    w = (w + w.transpose()).eval();
    const Mat expect = Mat(b * w * Mat(b.transpose()));
    w.triangularView<Eigen::StrictlyUpper>().setConstant(std::nan(""));
    double worst = 0.0;
    for (int a = 0; a < d; ++a)
      for (int ap = 0; ap <= a; ++ap)
        worst = std::max(worst, std::abs(exact::sparse_congruence_entry(
                                             b.outerIndexPtr(), b.innerIndexPtr(), b.valuePtr(),
                                             w.data(), ds, a, ap) -
                                         expect(a, ap)));
    EXPECT_LT(worst, 1e-14 * (1 + expect.cwiseAbs().maxCoeff())) << d << "x" << ds;
  }
}

TEST(ExactDenseDevice, TimeEvolutionOnAHostDeviceEqualsTheHostKernels) {
  const DenseKernels host = exact::default_dense_kernels();
  const exact::BlasThreads blas(1);
  for (const auto& cs : exact::testing::device_validation_cases()) {
    const auto device = std::make_shared<HostDevice>();
    const auto ref = exact::testing::evolve_case(cs, host);
    const auto got = exact::testing::evolve_case(cs, DenseKernels::cublas, device);
    const double worst = exact::testing::max_relative_difference(got, ref);
    const auto& t = device->traffic();
    std::printf("%s: host device vs host kernels %.2e; %lld products, %lld matrices kept "
                "(%.1f MB), %.1f MB to / %.1f MB from the device\n",
                cs.name.c_str(), worst, static_cast<long long>(t.products),
                static_cast<long long>(t.kept), t.resident_bytes / 1e6, t.bytes_to_device / 1e6,
                t.bytes_from_device / 1e6);
    EXPECT_LT(worst, 1e-10) << cs.name;
    EXPECT_NEAR(static_cast<double>(got.steps), static_cast<double>(ref.steps),
                0.02 * ref.steps + 1)
        << cs.name;  // same tolerances, products equal to rounding: the same steps, give or take
    EXPECT_GT(t.products, 0) << cs.name;
    EXPECT_EQ(t.temporary_uploads, 0) << cs.name;  // HostDevice throws before this could count
    // Every sector's V_n is kept (each is some product's operand), never more than V_n + G_c.
    const DickeSpace space(cs.two_j);
    Model model;
    model.spins.assign(cs.two_j.begin(), cs.two_j.end());
    model.reservoirs = cs.reservoirs;
    const std::int64_t sectors = space.max_excitation() + 1;
    const std::int64_t channels = static_cast<std::int64_t>(collapse_channels(model).size());
    EXPECT_GE(t.kept, sectors) << cs.name;
    EXPECT_LE(t.kept, sectors * (1 + channels)) << cs.name;
  }
}

TEST(ExactDenseDevice, CudaBackendWhereCublasCannotRunIsOneLineNamingSolverBackend) {
  std::string why;
  if (cuda::cublas_dense_available(&why)) GTEST_SKIP() << "cuBLAS can run here: " << why;
  const RunConfig config = parse_run_config(
      "[system]\ndomains = [4, 2]\n[time]\nend = 1.0\npoints = 3\n[solver]\nkind = \"exact\"\n"
      "backend = \"cuda\"\n");
  try {
    (void)solve(config);
    FAIL() << "solver.backend = \"cuda\" ran without cuBLAS";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.field(), "solver.backend");
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(why), std::string::npos) << what;
    std::printf("refusal: %s\n", what.c_str());
  }
}

}  // namespace
}  // namespace qtraj
