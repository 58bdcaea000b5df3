// The Krylov (Lanczos) propagator on single trajectories: the same trajectory (same seed) as the
// spectral propagator -- same jumps, jump times to 1e-8 relative, same observables -- on the
// validation systems, a thermal chain and coherent (complex) initial states, larger sectors;
// restarted segments (small bases); dark states; the tridiagonal eigensolver against Eigen; and a thread team.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <iostream>

#include "qtraj/backend/thread_team.hpp"
#include "trajectory/test_helpers.hpp"
#include "tsan_test.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::trajectory::testing;

namespace {

struct Case {
  std::vector<long long> spins;
  std::vector<std::string> initial;
  double nbar;
};

// Krylov (rtol, atol, basis) vs spectral on trajectories 0..count-1 of seed 77. Returns the
// number of restarted (time-stepped) Krylov segments over these trajectories.
long long expect_same_trajectories(const Case& cs, double t_end, int count, double rtol,
                                   double atol, int basis) {
  Fixture f(make_model(cs.spins, cs.initial, cs.nbar), linear_grid(t_end, 7), true, false);
  // The Krylov propagator's own bundle is lean (amplitudes and observables computed from k):
  // bit-identical to running it on the spectral bundle's tables.
  Fixture lean(make_model(cs.spins, cs.initial, cs.nbar), linear_grid(t_end, 7), false, false);
  EXPECT_EQ(lean.system->view().lower_amp, nullptr);
  EXPECT_EQ(lean.system->view().obs_diag, nullptr);
  int total_jumps = 0;
  long long restarts = 0;
  for (std::uint64_t index = 0; index < static_cast<std::uint64_t>(count); ++index) {
    SharedRun spec(f, 4096), kry(f, 4096), kry_lean(lean, 4096);
    SerialTeam team;
    run_one(team, f, spec, 77, index, false);
    KrylovPropagator prop(rtol, atol, basis);
    run_with(team, f, kry, 77, index, prop);
    restarts += prop.restarts();
    run_krylov(team, lean, kry_lean, 77, index, rtol, atol, basis);
    EXPECT_EQ(kry_lean.result.obs, kry.result.obs);
    EXPECT_EQ(kry_lean.result.jump_time, kry.result.jump_time);
    EXPECT_EQ(kry_lean.result.jump_channel, kry.result.jump_channel);
    SCOPED_TRACE("N[0] = " + std::to_string(cs.spins[0]) + ", trajectory " + std::to_string(index) +
                 ", basis " + std::to_string(basis));
    EXPECT_EQ(spec.result.jumps, kry.result.jumps);
    if (spec.result.jumps != kry.result.jumps) return restarts;
    total_jumps += spec.result.jumps;
    const int stored = std::min<int>(spec.result.jumps, 4096);
    for (int j = 0; j < stored; ++j) {
      EXPECT_EQ(spec.result.jump_channel[j], kry.result.jump_channel[j]) << "jump " << j;
      if (spec.result.jump_channel[j] != kry.result.jump_channel[j]) return restarts;
      EXPECT_NEAR(kry.result.jump_time[j], spec.result.jump_time[j],
                  1e-8 * spec.result.jump_time[j])
          << "jump " << j;
    }
    for (std::size_t k = 0; k < spec.result.obs.size(); ++k)
      EXPECT_NEAR(kry.result.obs[k], spec.result.obs[k], 1e-8 * (1 + std::abs(spec.result.obs[k])));
  }
  EXPECT_GT(total_jumps, 0);
  return restarts;
}

const Case kCases[] = {{{12, 6, 2}, {"excited", "ground", "ground"}, 0.0},
                       {{40, 2}, {"excited", "ground"}, 0.0},
                       {{8, 6, 5, 1}, {"excited", "ground", "ground", "ground"}, 0.0},
                       {{4, 3, 1}, {"excited", "dicke 1", "ground"}, 0.3},
                       {{5, 3}, {"coherent 1.0 0.3", "coherent 2.0 -1.0"}, 0.1},
                       {{12, 6, 2}, {"coherent 0.7 0.4", "ground", "dicke 1"}, 0.0}};

}  // namespace

TEST(TrajKrylov, TridiagonalEigenMatchesEigen) {
  for (int n : {1, 2, 5, 17, 40}) {
    Eigen::MatrixXd t = Eigen::MatrixXd::Zero(n, n);
    std::vector<double> d(n), e(n), z(n * n);
    for (int i = 0; i < n; ++i) {
      d[i] = std::pow(1.7, i % 9) * (1 + 0.3 * std::sin(i));  // spread of magnitudes
      t(i, i) = d[i];
      if (i + 1 < n) {
        e[i] = 0.5 + std::cos(3.0 * i);
        t(i, i + 1) = t(i + 1, i) = e[i];
      }
    }
    ASSERT_TRUE(tridiagonal_eigen(n, d.data(), e.data(), z.data()));
    Eigen::MatrixXd s = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(z.data(), n, n);
    Eigen::VectorXd lam = Eigen::Map<Eigen::VectorXd>(d.data(), n);
    const double scale = t.norm();
    EXPECT_LT((t * s - s * lam.asDiagonal()).norm(), 1e-13 * scale) << n;
    EXPECT_LT((s.transpose() * s - Eigen::MatrixXd::Identity(n, n)).norm(), 1e-13) << n;
    std::vector<double> mine(d), ref(n);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(t);
    for (int i = 0; i < n; ++i) ref[i] = es.eigenvalues()(i);
    std::sort(mine.begin(), mine.end());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(mine[i], ref[i], 1e-13 * scale) << n;
  }
}

TEST(TrajKrylov, SameTrajectoriesAsSpectral) {
  for (const auto& cs : kCases) expect_same_trajectories(cs, 30.0, 6, 1e-12, 1e-14, kKrylovMaxBasis);
}

TEST(TrajKrylov, SameTrajectoriesWithRestarts) {
  // Bases of 3-4 vectors in sectors of up to 21 ((12,6,2)) and ~50 ((8,6,5,1)) states: segments
  // the basis cannot carry to the jump are time-stepped with fresh bases (restarts). With 40
  // vectors the trajectories of these systems never need one (their Krylov spaces reach the jump
  // first, or break down exactly), hence the small bases. (Thermal (4,3,1) with 3 vectors takes
  // ~2e5 restarts for 3 trajectories, and the summed step errors reach 1.7e-8: not a unit test.)
  const long long r1 = expect_same_trajectories(kCases[0], 30.0, 1, 1e-12, 1e-14, 3);
  const long long r2 = expect_same_trajectories(kCases[2], 30.0, 3, 1e-12, 1e-14, 4);
  std::cout << "restarted segments: (12,6,2) " << r1 << ", (8,6,5,1) " << r2 << "\n";
  EXPECT_GT(r1 + r2, 0);
}

TEST(TrajKrylov, SameTrajectoriesOnLargerSectors) {
  // (60,20,4): sectors up to d_n = 105; (24,8,3) coherent + thermal: a complex state over all
  // sectors, up to d_n = 36. Default 40-vector bases.
  expect_same_trajectories({{60, 20, 4}, {"excited", "ground", "ground"}, 0.0}, 30.0, 3, 1e-12,
                           1e-14, kKrylovMaxBasis);
  expect_same_trajectories({{24, 8, 3}, {"coherent 1.2 0.4", "dicke 2", "ground"}, 0.2}, 3.0, 3,
                           1e-12, 1e-14, kKrylovMaxBasis);
}

TEST(TrajKrylov, SameTrajectoriesToLongTimes) {
  // t = 300: long jump-free stretches into the dark final states, 12-vector bases.
  expect_same_trajectories(kCases[2], 300.0, 4, 1e-12, 1e-14, 12);
}

TEST(TrajKrylov, SingleSpinWaitingTimeIsAnalytic) {
  Model m = make_model({1}, {"excited"});
  const double gamma = 0.7;
  m.reservoirs = {Reservoir{{0}, gamma, 0.0}};
  Fixture f(m, linear_grid(100.0, 3), false, false);
  for (std::uint64_t index = 0; index < 20; ++index) {
    PhiloxStream rng(5, index);
    rng.uniform();  // component
    rng.uniform();  // sector
    const double expected = -std::log(rng.uniform()) / gamma;
    SharedRun run(f, 8);
    SerialTeam team;
    run_krylov(team, f, run, 5, index, 1e-8, 1e-10);
    if (expected <= 100.0) {
      ASSERT_EQ(run.result.jumps, 1);
      EXPECT_NEAR(run.result.jump_time[0], expected, 1e-12 * (1 + expected));
    } else {
      EXPECT_EQ(run.result.jumps, 0);
    }
  }
}

TEST(TrajKrylov, DarkStateNeverJumps) {
  // N = (1, 1), one reservoir: (|1,0> - |0,1>)/sqrt(2) is annihilated by L^- = J_1^- + J_2^-.
  Fixture f(make_model({1, 1}, {"excited", "ground"}), linear_grid(50.0, 6), false, false);
  const auto& sys = f.system->view();
  const double psi_re[2] = {1 / std::sqrt(2.0), -1 / std::sqrt(2.0)}, psi_im[2] = {0, 0};
  SharedRun run(f, 8);
  TrajectoryWorkspace ws = TrajectoryWorkspace::carve(run.work.data(), sys.max_sector_dim,
                                                      sys.num_channels, test_scratch(sys.max_sector_dim));
  TrajectoryOutput out = run.output(f.times);
  PhiloxStream rng(1, 0);
  SerialTeam team;
  TrajectoryStart start{1, psi_re, psi_im, false};
  KrylovPropagator prop(1e-8, 1e-10);
  EXPECT_EQ(run_trajectory(team, sys, prop, rng, start, ws, out), 0);
  for (std::size_t k = 0; k < f.times.size(); ++k) {
    EXPECT_NEAR(run.result.obs[4 * k + 0], 0.0, 1e-12);
    EXPECT_NEAR(run.result.obs[4 * k + 2], 0.5, 1e-12);
  }
}

QTRAJ_TSAN_TEST(TrajKrylov, ThreadTeamEqualsSerial) {
  // Team-parallel Lanczos (strided vectors, reductions, rank-0 eigensolve, syncs): teams of 1, 3
  // and 7 threads reproduce the serial run; complex states and thermal channels included.
  for (const Case& cs : {kCases[0], kCases[4]}) {
    Fixture f(make_model(cs.spins, cs.initial, cs.nbar), linear_grid(20.0, 21), false, false);
    SharedRun serial(f, 256);
    SerialTeam one;
    run_krylov(one, f, serial, 11, 1, 1e-10, 1e-12, 8);
    ASSERT_GT(serial.result.jumps, 0);
    for (int size : {1, 3, 7}) {
      SharedRun shared(f, 256);
      run_thread_team(size, [&](ThreadTeam& team) {
        run_krylov(team, f, shared, 11, 1, 1e-10, 1e-12, 8);
      });
      SCOPED_TRACE("team size " + std::to_string(size));
      ASSERT_EQ(shared.result.jumps, serial.result.jumps);
      for (int j = 0; j < serial.result.jumps; ++j) {
        EXPECT_EQ(shared.result.jump_channel[j], serial.result.jump_channel[j]);
        EXPECT_NEAR(shared.result.jump_time[j], serial.result.jump_time[j],
                    1e-9 * (1 + serial.result.jump_time[j]));
      }
      for (std::size_t k = 0; k < serial.result.obs.size(); ++k)
        EXPECT_NEAR(shared.result.obs[k], serial.result.obs[k], 1e-9);
    }
  }
}
