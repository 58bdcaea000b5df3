#include <csignal>

#include <fmt/format.h>

#include "qtraj/bounds/run_bounds.hpp"
#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {

std::string stop_reason(int signal) {
  if (signal == SIGTERM) return "interrupted by SIGTERM";
  if (signal == SIGINT) return "interrupted by SIGINT";
  if (signal > 0) return "interrupted by signal " + std::to_string(signal);
  return "stopped on request";
}

ProgressFn progress_or_stop(const SolveContext& context, const std::string& solver) {
  if (!context.stop) return context.progress;
  return [&context, solver](double fraction, const std::string& status) {
    if (fraction < 1.0 && context.stop->requested())
      throw Interrupted(solver + ": " + stop_reason(context.stop->signal()) + " (" + status + ")",
                        context.stop->signal());
    if (context.progress) context.progress(fraction, status);
  };
}

void refuse_local_processes(const Model& model, const std::string& what) {
  for (std::size_t k = 0; k < model.local.size(); ++k) {
    const LocalTable& t = model.local[k];
    const std::pair<const char*, double> rates[] = {
        {"emission", t.emission}, {"pumping", t.pumping}, {"dephasing", t.dephasing}};
    for (const auto& [key, rate] : rates)
      if (rate > 0.0)
        throw InputError("local[" + std::to_string(k + 1) + "]." + key, fmt::format("{}", rate),
                         "local processes are not supported by " + what + " yet (docs/local.md)");
  }
}

Result solve(const RunConfig& config, const SolveContext& context) {
  const auto& kind = config.solver.kind;
  const bool known = kind == "exact" || kind == "trajectories" || kind == "meanfield" || kind == "steady";
  // Every solver's bounds (work, output, memory) before anything runs: one InputError line.
  if (known) bounds::check_run_bounds(config);
  if (kind == "exact") return solve_exact(config, context);
  if (kind == "trajectories") return solve_trajectories(config, context);
  if (kind == "meanfield") return solve_meanfield(config, context);
  if (kind == "steady") return solve_steady(config, context);
  throw InputError("solver.kind", "\"" + kind + "\"", "use exact | trajectories | meanfield | steady");
}

}  // namespace qtraj
