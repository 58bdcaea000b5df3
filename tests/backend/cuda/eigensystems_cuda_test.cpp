// The device set-up (docs/cuda.md section 3): per-sector eigensystems with cuSOLVER
// (include/qtraj/backend/cuda_eigensystems.hpp) against Eigen's on the host:
//  - eigenvalues equal to 1e-12 max|lambda|; V orthonormal and V diag(lambda) V^T = K to 1e-12
//    (eigenvectors themselves are only defined up to sign / a basis of a degenerate subspace);
//  - every routine's path: d = 1 (host), syevjBatched (d <= 32), XsyevBatched (d > 32, several of
//    one d), syevd (d > 32, alone), degenerate spectra included;
//  - a TrajectorySystem built with it gives the host bundle's eigenvalues and runs the same
//    trajectories (CPU code) to 1e-10.
// Skips without a CUDA device or without a loadable cuSOLVER (the test says which).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "qtraj/backend/cuda_eigensystems.hpp"
#include "qtraj/model/sector_operators.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

#define QTRAJ_REQUIRE_CUSOLVER()                                            \
  do {                                                                      \
    QTRAJ_REQUIRE_CUDA_DEVICE();                                            \
    std::string why;                                                        \
    if (!device_eigensolver_available(&why)) GTEST_SKIP() << why;           \
    std::printf("[ device set-up ] %s\n", why.c_str());                    \
  } while (0)

namespace {

/// Q diag(spectrum) Q^T with a random orthogonal Q (column-major, d x d).
Eigen::MatrixXd symmetric_with(const Eigen::VectorXd& spectrum, std::mt19937_64& rng) {
  const Eigen::Index d = spectrum.size();
  std::normal_distribution<double> g;
  Eigen::MatrixXd x(d, d);
  for (Eigen::Index i = 0; i < d * d; ++i) x.data()[i] = g(rng);
  const Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(x).householderQ();
  Eigen::MatrixXd a = q * spectrum.asDiagonal() * q.transpose();
  return 0.5 * (a + a.transpose());
}

/// Checks one solved task against the matrix it came from.
void expect_eigensystem(const Eigen::MatrixXd& k, const double* v_data, const double* lambda,
                        const std::string& what) {
  const Eigen::Index d = k.rows();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ref(k);
  const Eigen::Map<const Eigen::MatrixXd> v(v_data, d, d);
  const Eigen::Map<const Eigen::VectorXd> l(lambda, d);
  const double scale = std::max(1e-300, ref.eigenvalues().cwiseAbs().maxCoeff());
  for (Eigen::Index i = 0; i < d; ++i)
    EXPECT_NEAR(l(i), ref.eigenvalues()(i), 1e-12 * scale) << what << " eigenvalue " << i;
  EXPECT_LE((v * l.asDiagonal() * v.transpose() - k).cwiseAbs().maxCoeff(), 1e-12 * scale) << what;
  EXPECT_LE((v.transpose() * v - Eigen::MatrixXd::Identity(d, d)).cwiseAbs().maxCoeff(), 1e-12)
      << what;
}

}  // namespace

TEST(CudaEigensystems, EveryRoutineGivesTheHostSpectrumAndAnOrthonormalBasis) {
  QTRAJ_REQUIRE_CUSOLVER();
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 3.0);
  // (dimension, how many): d = 1 host; 2..32 syevjBatched; 33 alone: syevd; 64 x 4: XsyevBatched.
  const std::vector<std::pair<int, int>> shapes{{1, 3}, {2, 2}, {7, 5}, {32, 3}, {33, 1}, {64, 4}, {150, 1}};
  std::vector<Eigen::MatrixXd> k, work;
  std::vector<Eigen::VectorXd> lambda;
  for (const auto& [d, count] : shapes)
    for (int i = 0; i < count; ++i) {
      Eigen::VectorXd spectrum(d);
      for (int j = 0; j < d; ++j) spectrum(j) = u(rng);
      if (d >= 7 && i == 0) {  // degenerate: a triple and a pair, and a zero (dark) eigenvalue
        spectrum(1) = spectrum(2) = spectrum(0);
        spectrum(4) = spectrum(3);
        spectrum(5) = 0.0;
      }
      k.push_back(symmetric_with(spectrum, rng));
      work.push_back(k.back());
      lambda.emplace_back(d);
    }
  std::vector<SymmetricEigenTask> tasks;
  for (std::size_t i = 0; i < k.size(); ++i)
    tasks.push_back({k[i].rows(), work[i].data(), lambda[i].data()});
  EigensystemsInfo info;
  device_eigensystems(tasks, &info);
  for (std::size_t i = 0; i < k.size(); ++i)
    expect_eigensystem(k[i], work[i].data(), lambda[i].data(),
                       "matrix " + std::to_string(i) + " (d = " + std::to_string(k[i].rows()) + ")");
  EXPECT_EQ(info.host_sectors, 3);
  EXPECT_EQ(info.syevj_batched_calls, 3);  // d = 2, 7, 32
  EXPECT_GE(info.syevd_calls, 2);           // d = 33 and 150 alone (and 64 without XsyevBatched)
  std::printf("[ device set-up ] syevjBatched %d, XsyevBatched %d, syevd %d calls, %.3f s\n",
              info.syevj_batched_calls, info.syev_batched_calls, info.syevd_calls, info.seconds);
}

TEST(CudaEigensystems, BundleEqualsTheHostSetUpAndRunsTheSameTrajectories) {
  QTRAJ_REQUIRE_CUSOLVER();
  // Sectors from d = 1 to 5 x 11 = 55 (syevjBatched, XsyevBatched, syevd), and a thermal model.
  for (double nbar : {0.0, 0.2}) {
    SCOPED_TRACE("nbar " + std::to_string(nbar));
    const Model model = make_model({40, 10, 4}, {"excited", "dicke 3", "ground"}, nbar);
    const auto channels = collapse_channels(model);
    const qtraj::trajectory::testing::FirstComponents first(model);
    const auto& chosen = first.chosen;
    const TrajectorySystem host(model, channels, chosen, true, false, 2);
    const TrajectorySystem dev(model, channels, chosen, true, false, 2,
                               [](const std::vector<SymmetricEigenTask>& t) { device_eigensystems(t); });
    const SystemView &a = host.view(), &b = dev.view();
    ASSERT_EQ(a.spectral_max_sector, b.spectral_max_sector);
    DickeSpace space(std::vector<int>(a.two_j, a.two_j + a.num_domains));
    for (int n = 0; n <= a.spectral_max_sector; ++n) {
      const int d = a.sector_dim(n);
      const std::int64_t begin = a.sector_begin[n], off = a.eig_offset[n];
      const Eigen::MatrixXd k = no_jump_generator(space, channels, n);
      const double scale = std::max(1.0, k.cwiseAbs().maxCoeff());
      Eigen::MatrixXd v(d, d);
      Eigen::VectorXd l(d);
      for (int r = 0; r < d; ++r) {
        l(r) = b.lambda[begin + r];
        EXPECT_NEAR(b.lambda[begin + r], a.lambda[begin + r], 1e-12 * scale) << "sector " << n;
        EXPECT_EQ(b.lambda[begin + r] == 0.0, a.lambda[begin + r] == 0.0) << "dark, sector " << n;
        for (int c = 0; c < d; ++c) {
          v(r, c) = b.eig_v[off + r * d + c];
          ASSERT_EQ(b.eig_vt[off + c * d + r], v(r, c));
        }
      }
      EXPECT_LE((v * l.asDiagonal() * v.transpose() - k).cwiseAbs().maxCoeff(), 1e-12 * scale) << n;
      EXPECT_LE((v.transpose() * v - Eigen::MatrixXd::Identity(d, d)).cwiseAbs().maxCoeff(), 1e-12);
    }
    // The CPU trajectory code on both bundles: the same jumps, observables to 1e-10.
    const std::vector<double> times = linear_grid(4.0, 17);
    for (std::uint64_t t = 0; t < 60; ++t) {
      std::vector<std::vector<double>> obs(2);
      std::vector<int> jumps(2);
      std::vector<std::vector<double>> jt(2, std::vector<double>(256));
      std::vector<std::vector<int>> jc(2, std::vector<int>(256));
      int which = 0;
      for (const TrajectorySystem* sys : {&host, &dev}) {
        const SystemView& v = sys->view();
        PhiloxStream rng(kSeed, t);
        for (int i = 0; i < v.num_domains; ++i) rng.uniform();
        const auto& p = sys->sector_probability();
        const int n = draw_sector(rng, p.data(), static_cast<int>(p.size()));
        std::vector<double> work(static_cast<std::size_t>(
            TrajectoryWorkspace::doubles_needed(v.max_sector_dim, v.num_channels)));
        TrajectoryWorkspace ws = TrajectoryWorkspace::carve(work.data(), v.max_sector_dim, v.num_channels);
        obs[which].assign(times.size() * 2 * v.num_domains, 0.0);
        std::vector<int> counts(v.num_channels, 0);
        TrajectoryOutput out;
        out.times = times.data();
        out.num_times = static_cast<int>(times.size());
        out.obs = obs[which].data();
        out.jump_time = jt[which].data();
        out.jump_channel = jc[which].data();
        out.jump_capacity = 256;
        out.channel_counts = counts.data();
        TrajectoryStart start{n, sys->start_re(n), sys->start_im(n), sys->complex_state()};
        SerialTeam team;
        SpectralPropagator prop;
        jumps[which] = run_trajectory(team, v, prop, rng, start, ws, out);
        ++which;
      }
      ASSERT_EQ(jumps[0], jumps[1]) << "trajectory " << t;
      for (int j = 0; j < std::min(jumps[0], 256); ++j) {
        EXPECT_EQ(jc[0][j], jc[1][j]);
        EXPECT_NEAR(jt[0][j], jt[1][j], 1e-10 * std::max(1.0, jt[0][j]));
      }
      for (std::size_t q = 0; q < obs[0].size(); ++q)
        EXPECT_NEAR(obs[0][q], obs[1][q], 1e-10 * std::max(1.0, std::abs(obs[0][q])));
    }
  }
}
