// solve_trajectories: the Monte Carlo wavefunction solver's entry point (design.md section 3).
// Validates the run (TrajectoryRun), hands it to the CPU or CUDA backend (src/backend/), and turns
// the tally into the result layout (result_layout.cpp).
#include "qtraj/solvers.hpp"
#include "trajectory/run.hpp"

namespace qtraj {

Result solve_trajectories(const RunConfig& config, const ProgressFn& progress) {
  backend::TrajectoryRun run(config.model, config.solver, config.time);
  backend::Tally tally(run);
  if (config.solver.backend == "cuda")
    backend::run_trajectories_cuda(run, tally, progress);
  else
    backend::run_trajectories_cpu(run, tally, progress);

  backend::TrajectoryStatistics stats{std::move(tally.all), std::move(tally.histogram), run.record > 0,
                                      {}, {}, {}};
  for (std::int64_t t = 0; t < run.record; ++t)
    for (std::size_t j = 0; j < tally.rec_time[t].size(); ++j) {
      stats.rec_trajectory.push_back(run.first + t);
      stats.rec_time.push_back(tally.rec_time[t][j]);
      stats.rec_channel.push_back(tally.rec_channel[t][j]);
    }
  Result result = backend::trajectory_result(run.model, run.times, run.channels,
                                             run.num_reservoirs, stats);
  result.attributes["trajectories"] = static_cast<std::int64_t>(run.total);
  result.attributes["first_trajectory"] = static_cast<std::int64_t>(run.first);
  result.attributes["seed"] = static_cast<std::int64_t>(run.settings.seed);
  result.attributes["propagator"] = run.propagator;
  result.attributes["record_jumps"] = static_cast<std::int64_t>(run.record);
  result.attributes["backend"] = run.settings.backend;
  return result;
}

}  // namespace qtraj
