#pragma once
// Shared by the ensemble tests of solve_trajectories (solver_test.cpp, krylov_solver_test.cpp):
// a chain run file and the 4-standard-error check against the exact solver.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj::trajectory_solver_testing {

/// A chain (gamma = 1, nbar) with the given domains, a linear grid 0..t_end, seed 2024, 2 threads.
inline RunConfig make_config(std::vector<long long> spins, std::vector<std::string> initial, double t_end,
                      int points, std::int64_t trajectories, const std::string& propagator,
                      double nbar = 0.0) {
  RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(InitialState::parse(initial[i], spins[i], "test"));
  c.model.reservoirs = Model::default_chain(c.model.num_domains());
  for (auto& r : c.model.reservoirs) r.nbar = nbar;
  c.time.end = t_end;
  c.time.points = points;
  c.solver.kind = "trajectories";
  c.solver.trajectories = trajectories;
  c.solver.seed = 2024;
  c.solver.propagator = propagator;
  c.solver.threads = 2;
  c.solver.rtol = 1e-8;
  c.solver.atol = 1e-10;
  return c;
}

/// |trajectory mean - exact| <= 4 SE (+1e-10 for t = 0) at every output time and domain.
inline void expect_within_4_sigma(const Result& traj, const Result& exact) {
  ASSERT_EQ(traj.time.size(), exact.time.size());
  for (std::size_t k = 0; k < traj.time.size(); ++k)
    for (std::size_t i = 0; i < traj.jz_over_n_mean.cols; ++i) {
      const double diff = traj.jz_over_n_mean(k, i) - exact.jz_over_n_mean(k, i);
      const double se = traj.jz_over_n_stderr(k, i);
      EXPECT_LE(std::abs(diff), 4 * se + 1e-10)
          << "t = " << traj.time[k] << ", domain " << i + 1 << ": trajectories "
          << traj.jz_over_n_mean(k, i) << " +- " << se << ", exact " << exact.jz_over_n_mean(k, i);
    }
}

/// (12,6,2), first domain excited, on a log grid t = 0, 0.01 .. t_end (13 points): trajectories
/// of `propagator` within 4 SE of the exact solver (rtol 1e-10) at every output time.
inline void expect_log_grid_matches_exact(const std::string& propagator, double t_end,
                                          std::int64_t trajectories) {
  RunConfig c = make_config({12, 6, 2}, {"excited", "ground", "ground"}, t_end, 13, trajectories,
                            propagator);
  c.time.spacing = TimeGrid::Spacing::log;
  c.time.start = 0.01;
  const Result traj = solve_trajectories(c);
  RunConfig e = c;
  e.solver.kind = "exact";
  e.solver.rtol = 1e-10;
  e.solver.atol = 1e-12;
  expect_within_4_sigma(traj, solve_exact(e));
}

}  // namespace qtraj::trajectory_solver_testing
