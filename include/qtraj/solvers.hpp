#pragma once
// The solver entry points. Each returns a filled Result (time grid from config.time).
//
// `config` is a parsed run (parse_run_config / load_run_config check every field and the model):
// a solver may rely on those checks and adds only its own (sizes, temperature, the device); a
// RunConfig built or edited by hand must stay within the parser's limits. `context` carries
// progress, a stop request and the MPI communicator (solve_context.hpp); the solvers touch no
// process-wide state, so solves may run concurrently on several threads.
#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solve_context.hpp"

namespace qtraj {

/// Lindblad master equation in the Dicke basis (docs/design.md section 4).
Result solve_exact(const RunConfig& config, const SolveContext& context = {});
/// Second-order cumulant (mean-field) equations (docs/design.md section 6).
Result solve_meanfield(const RunConfig& config, const SolveContext& context = {});
/// Monte Carlo wavefunction trajectories (docs/design.md section 3).
Result solve_trajectories(const RunConfig& config, const SolveContext& context = {});
/// Exact zero-temperature steady state in one sweep over the sectors (docs/steady_state.md):
/// one output time, t = inf. Throws InputError for nbar > 0.
Result solve_steady(const RunConfig& config, const SolveContext& context = {});

/// Refuses a model with local processes ([[local]] tables with a positive rate, docs/local.md)
/// in a solver (or a case of one) that does not handle them: InputError naming
/// `local[k].<key>` of the first positive rate and `what` ("the mean-field solver", ...).
void refuse_local_processes(const Model& model, const std::string& what);

/// Dispatches on config.solver.kind.
Result solve(const RunConfig& config, const SolveContext& context = {});

}  // namespace qtraj
