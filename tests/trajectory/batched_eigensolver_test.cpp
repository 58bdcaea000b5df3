// TrajectorySystem's batched-eigensolver hook (SectorEigensolver: the CUDA backend's device
// set-up, docs/cuda.md section 3), on the CPU: an emulated batched solver that returns eigenvectors
// with other signs and another basis of each degenerate subspace, as cuSOLVER may. The bundle it
// builds must give the host set-up's eigenvalues, reconstruct every K_n, and run the same
// trajectories to 1e-10. (The real cuSOLVER path: tests/backend/cuda/eigensystems_cuda_test.cpp.)
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <vector>

#include "qtraj/error.hpp"
#include "qtraj/model/sector_operators.hpp"
#include "trajectory/test_helpers.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::trajectory::testing;

namespace {

/// A "different" eigensolver: Eigen's, then every odd eigenvector negated and each pair of
/// (numerically) degenerate eigenvectors rotated by 0.7 rad: still an orthonormal eigenbasis.
void emulated_batched_solver(const std::vector<SymmetricEigenTask>& tasks, int& calls, int& sectors) {
  ++calls;
  for (const auto& t : tasks) {
    ++sectors;
    const Eigen::Index d = t.dim;
    Eigen::Map<Eigen::MatrixXd> a(t.matrix, d, d);
    const Eigen::MatrixXd k = a;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(k);
    Eigen::MatrixXd v = es.eigenvectors();
    const Eigen::VectorXd l = es.eigenvalues();
    for (Eigen::Index b = 1; b < d; b += 2) v.col(b) = -v.col(b);
    const double scale = std::max(1.0, l.cwiseAbs().maxCoeff());
    for (Eigen::Index b = 0; b + 1 < d; ++b)
      if (std::abs(l(b + 1) - l(b)) < 1e-12 * scale) {
        const Eigen::VectorXd x = v.col(b), y = v.col(b + 1);
        v.col(b) = std::cos(0.7) * x + std::sin(0.7) * y;
        v.col(b + 1) = -std::sin(0.7) * x + std::cos(0.7) * y;
        ++b;
      }
    a = v;
    std::copy(l.data(), l.data() + d, t.lambda);
  }
}

/// Fixture whose bundle is rebuilt with the emulated solver (same model, channels, grid).
Fixture with_solver(Fixture f, int& calls, int& sectors) {
  f.system = std::make_unique<TrajectorySystem>(
      f.model, f.channels, f.components.chosen, true, false, 2,
      [&](const std::vector<SymmetricEigenTask>& tasks) { emulated_batched_solver(tasks, calls, sectors); });
  return f;
}

}  // namespace

TEST(BatchedEigensolverHook, SameSpectrumReconstructionAndTrajectories) {
  // Degenerate sectors (two equal domains) and a thermal model (every sector has data).
  for (double nbar : {0.0, 0.2}) {
    SCOPED_TRACE("nbar " + std::to_string(nbar));
    const Model model = make_model({6, 6, 3}, {"excited", "dicke 2", "excited"}, nbar);
    Fixture host(model, linear_grid(3.0, 13), true, false);
    int calls = 0, sectors = 0;
    Fixture dev = with_solver(Fixture(model, linear_grid(3.0, 13), true, false), calls, sectors);
    EXPECT_EQ(calls, 1) << "all sectors in one batch";
    const SystemView &a = host.system->view(), &b = dev.system->view();
    ASSERT_EQ(a.spectral_max_sector, b.spectral_max_sector);
    EXPECT_EQ(sectors, a.spectral_max_sector + 1);
    DickeSpace space(std::vector<int>(a.two_j, a.two_j + a.num_domains));
    bool rotated = false;
    for (int n = 0; n <= a.spectral_max_sector; ++n) {
      const int d = a.sector_dim(n);
      const std::int64_t begin = a.sector_begin[n], off = a.eig_offset[n];
      ASSERT_EQ(off, b.eig_offset[n]);
      const Eigen::MatrixXd k = no_jump_generator(space, host.channels, n);
      const double kmax = std::max(1.0, k.cwiseAbs().maxCoeff());
      Eigen::MatrixXd v(d, d), vt(d, d);
      for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c) {
          v(r, c) = b.eig_v[off + r * d + c];
          vt(c, r) = b.eig_vt[off + c * d + r];
        }
      EXPECT_EQ((v - vt.transpose()).cwiseAbs().maxCoeff(), 0.0) << "V^T is V transposed";
      Eigen::VectorXd l(d);
      for (int s = 0; s < d; ++s) {
        l(s) = b.lambda[begin + s];
        EXPECT_NEAR(b.lambda[begin + s], a.lambda[begin + s], 1e-12 * kmax) << n;
        EXPECT_EQ(b.lambda[begin + s] == 0.0, a.lambda[begin + s] == 0.0) << "dark states " << n;
        EXPECT_GE(b.lambda[begin + s], 0.0);
      }
      EXPECT_LE((v * l.asDiagonal() * v.transpose() - k).cwiseAbs().maxCoeff(), 1e-12 * kmax) << n;
      EXPECT_LE((v.transpose() * v - Eigen::MatrixXd::Identity(d, d)).cwiseAbs().maxCoeff(), 1e-12);
      for (int s = 0; s < d * d && !rotated; ++s)
        rotated = std::abs(b.eig_v[off + s] - a.eig_v[off + s]) > 1e-6;
    }
    EXPECT_TRUE(rotated) << "the emulated solver must return other eigenvectors than the host's";

    // The same trajectories (draws, jumps, observables) from both bundles, to 1e-10.
    for (std::uint64_t index = 0; index < 40; ++index) {
      SharedRun ra(host, 256), rb(dev, 256);
      SerialTeam team;
      run_one(team, host, ra, 5, index, false);
      run_one(team, dev, rb, 5, index, false);
      ASSERT_EQ(ra.result.jumps, rb.result.jumps) << index;
      EXPECT_EQ(ra.result.channel_counts, rb.result.channel_counts) << index;
      for (int j = 0; j < ra.result.jumps; ++j) {
        EXPECT_EQ(ra.result.jump_channel[j], rb.result.jump_channel[j]);
        EXPECT_NEAR(ra.result.jump_time[j], rb.result.jump_time[j], 1e-10);
      }
      for (std::size_t q = 0; q < ra.result.obs.size(); ++q)
        EXPECT_NEAR(ra.result.obs[q], rb.result.obs[q], 1e-10 * std::max(1.0, std::abs(ra.result.obs[q])));
    }
  }
}

TEST(BatchedEigensolverHook, ErrorsOfTheSolverPropagate) {
  const Model model = make_model({4, 2}, {"excited", "ground"});
  Fixture f(model, linear_grid(1.0, 3), true, false);
  EXPECT_THROW(TrajectorySystem(f.model, f.channels, f.components.chosen, true, false, 1,
                                [](const std::vector<SymmetricEigenTask>&) {
                                  throw DeviceError("cuSOLVER: no device");
                                }),
               DeviceError);
}
