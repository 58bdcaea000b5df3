// The exact and steady solvers' observables (src/exact/observables.hpp).
#include "exact/observables.hpp"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "qtraj/error.hpp"

namespace qtraj::exact {

void check_dicke_dimension(const Model& model, layout::Source solver) {
  double full_dim = 1.0;
  for (int i = 0; i < model.num_domains(); ++i) full_dim *= static_cast<double>(model.spins[i]) + 1.0;
  if (!(full_dim > kMaxDickeDim)) return;
  if (solver == layout::Source::steady)
    throw InputError("system.domains", "Dicke dimension " + fmt::format("{:g}", full_dim),
                     "too large for the steady solver (limit 5e7); use solver.kind = "
                     "\"meanfield\"");
  throw InputError("system.domains", "Dicke dimension " + std::to_string(full_dim),
                   "too large for the exact solver; use solver.kind = \"trajectories\" or "
                   "\"meanfield\"");
}

DiagonalObservables::DiagonalObservables(const Model& model, std::size_t rows)
    : model_(model), jz_(rows, model.num_domains()), jpjm_(rows, model.num_domains()) {
  for (int i = 0; i < model.num_domains(); ++i)
    pops_.emplace_back(rows, static_cast<std::size_t>(model.spins[i] + 1));
}

void DiagonalObservables::add(std::size_t row, const DickeSpace& space,
                              const std::vector<int>& two_j, double weight,
                              const Eigen::VectorXd& p) {
  const int m = model_.num_domains();
  for (std::int64_t s = 0; s < space.dim(); ++s) {
    const double ps = weight * p[s];
    if (ps == 0.0) continue;
    for (int i = 0; i < m; ++i) {
      const int ki = space.k(s, i);
      jz_(row, i) += ps * (ki - 0.5 * two_j[i]);
      jpjm_(row, i) += ps * static_cast<double>(ki) * (two_j[i] - ki + 1);
      pops_[i](row, static_cast<std::size_t>(ki + (model_.spins[i] - two_j[i]) / 2)) += ps;
    }
  }
}

void DiagonalObservables::store(Result& result, layout::Source solver) const {
  const bool steady = solver == layout::Source::steady;
  for (std::size_t k = 0; k < jz_.rows; ++k)
    for (int i = 0; i < model_.num_domains(); ++i) {
      const double n_i = static_cast<double>(model_.spins[i]);
      result.jz_over_n_mean(k, i) = jz_(k, i) / n_i;
      result.excitations_mean(k, i) = jz_(k, i) + 0.5 * n_i;
      // |<J^z>| <= N/2 always: a violation means the integration lost accuracy; never write it.
      if (std::fabs(result.jz_over_n_mean(k, i)) <= 0.5 + 1e-6) continue;
      if (steady)
        throw Error(fmt::format("steady solver: lost accuracy (<J_{}^z>/N_{} = {})", i + 1, i + 1,
                                result.jz_over_n_mean(k, i)));
      throw Error(fmt::format("exact solver: lost accuracy (<J_{}^z>/N_{} = {} at t = {}); "
                              "tighten solver.rtol/atol or shorten time.end",
                              i + 1, i + 1, result.jz_over_n_mean(k, i), result.time[k]));
    }
  layout::add_jplus_jminus_mean(result, jpjm_, solver);
  for (int i = 0; i < model_.num_domains(); ++i)
    layout::add_populations(result, i, pops_[i], solver);
}

}  // namespace qtraj::exact
