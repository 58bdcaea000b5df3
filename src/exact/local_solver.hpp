#pragma once
// Private to src/exact: solve_exact for a model with local processes (Model::has_local()),
// on LocalSystem (local_system.hpp) with the Dormand-Prince integrator (local_integrator.hpp).
// docs/local.md "Exact".
#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solve_context.hpp"

#include <vector>

#include "exact/local_system.hpp"
#include "exact/observables.hpp"
#include "qtraj/io/layout.hpp"

namespace qtraj::exact {

/// The observables of the local exact and steady solves, row by row from LocalSystem states:
/// each block as a fixed-j component of weight 1 (observables.hpp), its trace into P(j_i), the
/// channels' quanta per reservoir (absorptions negative) and the local quanta.
class LocalObservables {
 public:
  LocalObservables(const Model& model, const std::vector<Channel>& channels, std::size_t rows);
  void add(std::size_t row, const LocalSystem& system, const Eigen::VectorXd& y);
  /// DiagonalObservables::store, /total_spin/domain_<i>, /local_quanta/mean; the reservoirs'
  /// quanta (rows x R) are returned for the solver's own datasets.
  Table store(Result& result, layout::Source source);

 private:
  const Model& model_;
  const std::vector<Channel>& channels_;
  std::size_t rows_;
  DiagonalObservables diagonal_;
  Table emitted_;
  std::vector<Table> total_spin_;
  std::vector<double> local_quanta_;
};

Result solve_exact_local(const RunConfig& config, const SolveContext& context);
/// solve_steady with local emission and dephasing (pumping refused in one line; nbar > 0 by
/// solve_steady): LocalSystem::steady without dephasing, local_steady_dephasing with it. Writes
/// what solve_steady writes plus /total_spin/domain_<i> and /local_quanta/mean (one row each,
/// quanta over [0, inf)).
Result solve_steady_local(const RunConfig& config, const SolveContext& context);

}  // namespace qtraj::exact
