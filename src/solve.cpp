#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {

Result solve(const RunConfig& config, const ProgressFn& progress) {
  const auto& kind = config.solver.kind;
  if (kind == "exact") return solve_exact(config, progress);
  if (kind == "trajectories") return solve_trajectories(config, progress);
  if (kind == "meanfield") return solve_meanfield(config, progress);
  if (kind == "steady") return solve_steady(config, progress);
  throw InputError("solver.kind", "\"" + kind + "\"", "use exact | trajectories | meanfield | steady");
}

}  // namespace qtraj
