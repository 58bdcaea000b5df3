// solve_trajectories with the Krylov propagator: ensembles against the exact solver to long times
// on a log grid (4 standard errors at every output time; the validation systems are in
// tests/trajectory/solver_test.cpp with the other propagators), a large system far beyond the spectral propagator in bounded time, `auto`'s choice under
// solver.memory_limit, and bad input. Fixed seeds; tolerances statistical, never tuned.
#include <gtest/gtest.h>

#include <cmath>

#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "trajectory/solver_test_helpers.hpp"
#include "trajectory/propagator_choice.hpp"

namespace qtraj {
namespace {

using trajectory_solver_testing::expect_within_4_sigma;
using trajectory_solver_testing::make_config;

}  // namespace

// Krylov ensembles against the exact solver on (40,2), (12,6,2), (8,6,5,1), the thermal chain and
// mixed/coherent initial states: tests/trajectory/solver_test.cpp (kBoth: one exact solution
// for all three propagators).

TEST(TrajKrylovSolver, MatchesExactOnLogGridToLongTimes) {
  // t = 0, 0.01 .. 1000: long no-jump stretches (restarted bases) and dark final states.
  trajectory_solver_testing::expect_log_grid_matches_exact("krylov", 1000.0, 2000);
}

TEST(TrajKrylovSolver, LargeSystemRunsInBoundedTime) {
  // (2000,200,20): sectors up to d_n = 4221, dimension 8.4e6; the spectral propagator would need
  // ~2 x 2000 x 4221^2 doubles (~0.5 TB) of eigenvectors. A few Krylov trajectories to t = 2e-3
  // (the start of the superradiant burst, a few tens of jumps each).
  RunConfig c = make_config({2000, 200, 20}, {"excited", "ground", "ground"}, 2e-3, 5, 2, "auto");
  c.solver.record_jumps = 2;
  const Result r = solve_trajectories(c);
  EXPECT_EQ(std::get<std::string>(r.attributes.at("propagator")), "krylov");
  // Energy only leaves domain 1 (zero temperature, chain): <J_1^z>/N_1 decreases from 1/2, the
  // excitations stay within the initial n0 = 2000.
  EXPECT_EQ(r.jz_over_n_mean(0, 0), 0.5);
  for (std::size_t k = 1; k < r.time.size(); ++k) {
    EXPECT_LE(r.jz_over_n_mean(k, 0), r.jz_over_n_mean(k - 1, 0) + 1e-12);
    double total = 0;
    for (int i = 0; i < 3; ++i) total += r.excitations_mean(k, i);
    EXPECT_LE(total, 2000.0 + 1e-9);
  }
  EXPECT_LT(r.jz_over_n_mean(4, 0), 0.5);  // some trajectory has jumped by t = 2e-3
}

TEST(TrajKrylovSolver, AutoChoosesByMemoryLimit) {
  RunConfig c = make_config({12, 6, 2}, {"excited", "ground", "ground"}, 5.0, 3, 20, "auto");
  EXPECT_EQ(std::get<std::string>(solve_trajectories(c).attributes.at("propagator")), "spectral");
  c.solver.memory_limit = 1000;  // bytes: (12,6,2)'s eigenvectors need ~50 kB
  EXPECT_EQ(std::get<std::string>(solve_trajectories(c).attributes.at("propagator")), "krylov");
  c.solver.memory_limit = 1LL << 30;
  EXPECT_EQ(std::get<std::string>(solve_trajectories(c).attributes.at("propagator")), "spectral");
  // An explicit propagator ignores the budget.
  c.solver.memory_limit = 1000;
  c.solver.propagator = "spectral";
  EXPECT_EQ(std::get<std::string>(solve_trajectories(c).attributes.at("propagator")), "spectral");
}

TEST(TrajKrylovSolver, SpectralCostEstimate) {
  // (2, 1): sectors n = 0..3 have d = 1, 2, 2, 1 (k_1 in 0..2, k_2 in 0..1).
  const auto cost = backend::spectral_cost({2, 1}, 3);
  EXPECT_EQ(cost.max_dim, 2);
  EXPECT_DOUBLE_EQ(cost.setup, 1 + 8 + 8 + 1);
  EXPECT_DOUBLE_EQ(cost.bytes, 8.0 * (2 * (1 + 4 + 4 + 1) + 3 * 4 + 6));
  // Only the sectors up to max_sector count.
  EXPECT_DOUBLE_EQ(backend::spectral_cost({2, 1}, 1).setup, 1 + 8);
  // (2000,200,20) from the fully excited first domain: far beyond any memory budget.
  EXPECT_GT(backend::spectral_cost({2000, 200, 20}, 2000).bytes, 1e11);
  EXPECT_GT(backend::default_memory_limit(), 0);
}

TEST(TrajKrylovSolver, CudaBackendRunsKrylovAndBudgetsDeviceMemory) {
  // backend = "cuda" no longer refuses Krylov: without a device (or without CUDA) it fails as any
  // CUDA run does (NotCompiled / DeviceError, not an InputError on solver.propagator). With a
  // device it runs (tests/backend/cuda/krylov_cuda_test.cpp checks the numbers).
  RunConfig c = make_config({12, 6, 2}, {"excited", "ground", "ground"}, 5.0, 3, 20, "krylov");
  c.solver.backend = "cuda";
  if (!cuda::device_available()) {
    try {
      (void)solve_trajectories(c);
      ADD_FAILURE() << "no CUDA device: must throw";
    } catch (const InputError& e) {
      ADD_FAILURE() << "refused as bad input: " << e.what();
    } catch (const NotCompiled&) {  // CPU-only build
    } catch (const DeviceError&) {  // CUDA build, no device
    }
    // The default budget of `auto` on the CUDA backend falls back to the host's without a device.
    EXPECT_EQ(backend::default_memory_limit("cuda"), backend::default_memory_limit());
  } else {
    EXPECT_EQ(std::get<std::string>(solve_trajectories(c).attributes.at("propagator")), "krylov");
    EXPECT_LE(backend::default_memory_limit("cuda"), backend::default_memory_limit());
  }
  EXPECT_EQ(backend::default_memory_limit("cpu"), backend::default_memory_limit());
}

TEST(TrajKrylovSolver, RejectsBadInput) {
  RunConfig c = make_config({2, 1}, {"excited", "ground"}, 1.0, 3, 10, "krylov");
  c.solver.memory_limit = -5;
  EXPECT_THROW(solve_trajectories(c), InputError);
  c.solver.memory_limit = 0;
  c.solver.rtol = 0;
  EXPECT_THROW(solve_trajectories(c), InputError);
  const std::string base = "[system]\ndomains = [2, 1]\n[solver]\nkind = \"trajectories\"\n";
  for (const char* bad : {"memory_limit = 0", "memory_limit = -1", "memory_limit = \"12 parsecs\"",
                          "memory_limit = \"GB\"", "memory_limit = \"nan GB\"",
                          "memory_limit = true", "memory_limit = 0.5", "propagator = \"lanczos\""})
    EXPECT_THROW(parse_run_config(base + bad + "\n"), InputError) << bad;
  EXPECT_EQ(parse_run_config(base + "memory_limit = \"2 GiB\"\n").solver.memory_limit, 2LL << 30);
  EXPECT_EQ(parse_run_config(base + "memory_limit = \"1.5GB\"\n").solver.memory_limit, 1500000000LL);
  EXPECT_EQ(parse_run_config(base + "memory_limit = 4096\n").solver.memory_limit, 4096);
  EXPECT_EQ(parse_run_config(base + "propagator = \"krylov\"\n").solver.propagator, "krylov");
}

}  // namespace qtraj
