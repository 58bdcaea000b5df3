#pragma once
// Private to src/exact: solve_exact for a model with local processes (Model::has_local()),
// on LocalSystem (local_system.hpp) with the Dormand-Prince integrator (local_integrator.hpp).
// docs/local.md "Exact".
#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solve_context.hpp"

namespace qtraj::exact {

Result solve_exact_local(const RunConfig& config, const SolveContext& context);

}  // namespace qtraj::exact
