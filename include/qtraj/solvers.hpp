#pragma once
// The solver entry points. Each returns a filled Result (time grid from config.time).
#include <functional>

#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj {

/// Progress callback: fraction done in [0, 1] and a short status text. May be empty.
using ProgressFn = std::function<void(double fraction, const std::string& status)>;

/// Lindblad master equation in the Dicke basis (docs/design.md section 4).
Result solve_exact(const RunConfig& config, const ProgressFn& progress = {});
/// Second-order cumulant (mean-field) equations (docs/design.md section 6).
Result solve_meanfield(const RunConfig& config, const ProgressFn& progress = {});
/// Monte Carlo wavefunction trajectories (docs/design.md section 3).
Result solve_trajectories(const RunConfig& config, const ProgressFn& progress = {});
/// Exact zero-temperature steady state in one sweep over the sectors (docs/steady_state.md):
/// one output time, t = inf. Throws InputError for nbar > 0.
Result solve_steady(const RunConfig& config, const ProgressFn& progress = {});

/// Dispatches on config.solver.kind.
Result solve(const RunConfig& config, const ProgressFn& progress = {});

}  // namespace qtraj
