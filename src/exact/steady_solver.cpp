// solve_steady: the exact zero-temperature steady state (docs/steady_state.md).
//
// The initial state is the exact solver's mixture over the domains' fixed-j components (a
// `product K` domain is a mixture over j): each combination is swept on its own DickeSpace
// (steady_state.cpp) and the weighted observables are summed, exactly as solve_exact does.
// `coherent` states are handled as solve_exact does too: coherences between sectors never feed
// the diagonal blocks and every reported observable is diagonal in n, so the diagonal blocks
// Re(psi_n psi_n^+) suffice.
//
// Output: one output time, t = inf (/time = [inf], root attribute time_is_infinite = 1), the
// contract tables (1 x M), /jplus_jminus/mean, /populations/domain_<i> (1 x (N_i + 1)),
// /emitted_quanta (R: quanta carried away by each reservoir over t in [0, inf)) and, for scripts
// written for the exact solver, the same numbers as /emitted_energy/mean (1 x R).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "exact/components.hpp"
#include "exact/local_solver.hpp"
#include "exact/observables.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/steady_state.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

// Largest swept sector: a few dense d x d matrices per sector in flight (6000: ~0.3 GB each).
constexpr std::int64_t kMaxSectorDim = 6000;

}  // namespace

Result solve_steady(const RunConfig& config, const SolveContext& context) {
  const Model& model = config.model;  // checked by the parser
  const ProgressFn progress = progress_or_stop(context, "steady");
  const int m = model.num_domains();
  for (std::size_t r = 0; r < model.reservoirs.size(); ++r)
    if (model.reservoirs[r].nbar != 0.0)
      throw InputError("reservoir[" + std::to_string(r + 1) + "].nbar",
                       fmt::format("{}", model.reservoirs[r].nbar),
                       "the steady solver needs zero temperature (nbar = 0); use solver.kind = "
                       "\"exact\" for thermal reservoirs");
  if (config.solver.backend != "cpu")
    throw InputError("solver.backend", "\"" + config.solver.backend + "\"",
                     "the steady solver runs on the CPU only (use backend = \"cpu\")");
  if (!config.output.plot.empty())
    throw InputError("output.plot", "\"" + config.output.plot + "\"",
                     "a steady-state result has no time axis to plot; remove output.plot (or "
                     "--set output.plot=\"\")");
  // Local processes: the block sweep (local_solver.hpp); without them the code below runs unchanged.
  if (model.has_local()) return exact::solve_steady_local(config, context);
  exact::check_dicke_dimension(model, layout::Source::steady);
  const auto channels = collapse_channels(model);
  const std::size_t n_res = model.reservoirs.empty() ? static_cast<std::size_t>(std::max(0, m - 1))
                                                     : model.reservoirs.size();

  const std::vector<std::vector<DomainComponent>> per_domain = exact::domain_components(model);
  const std::size_t n_combinations = exact::num_combinations(per_domain);

  exact::SteadyOptions options;
  options.threads = config.solver.threads;
  exact::DiagonalObservables observables(model, 1);
  std::vector<double> emitted(n_res, 0.0);
  double balance = 0.0, trace = 0.0, max_dark = 0.0, min_bright = 1.0;
  std::size_t done = 0;
  exact::for_each_combination(per_domain, [&](const exact::Combination& combination) {
    const auto& pick = combination.pick;
    const double weight = combination.weight;
    const std::vector<int>& two_j = combination.two_j;
    const std::size_t index = done++;
    if (weight <= 0.0) return;
    const DickeSpace space(two_j);
    const std::vector<std::complex<double>> psi = exact::product_state(space, pick);
    // Refuse before the sweep if a swept sector (0 .. top populated) is too large.
    int top = 0;
    for (std::int64_t s = 0; s < space.dim(); ++s)
      if (psi[static_cast<std::size_t>(s)] != 0.0) top = std::max(top, space.excitation(s));
    for (int n = 0; n <= top; ++n)
      if (space.sector_size(n) > kMaxSectorDim)
        throw InputError("system.domains", "sector dimension " + std::to_string(space.sector_size(n)),
                         "too large for the steady solver's dense sectors (limit " +
                             std::to_string(kMaxSectorDim) + "); use solver.kind = \"meanfield\"");
    std::function<void(double)> report;
    if (progress)
      report = [&](double frac) {
        progress((index + frac) / n_combinations,
                 "steady: component " + std::to_string(index + 1) + "/" +
                     std::to_string(n_combinations));
      };
    const exact::SteadyState st = exact::steady_state(space, channels, psi, options, report);
    observables.add(0, space, two_j, weight, st.populations);
    double emitted_total = 0.0;
    for (std::size_t c = 0; c < channels.size(); ++c) {
      emitted[channels[c].reservoir] += weight * st.emitted[c];
      emitted_total += st.emitted[c];
    }
    // Every quantum leaves through a channel: n(0) = n(inf) + emitted (exact; round-off only).
    balance += weight * (st.initial_excitation - st.steady_excitation - emitted_total);
    trace += weight * st.steady_trace;
    max_dark = std::max(max_dark, st.max_dark_relative);
    min_bright = std::min(min_bright, st.min_bright_relative);
  });

  Result result;
  result.solver = "steady";
  result.time = {std::numeric_limits<double>::infinity()};
  result.resize(1, m);
  observables.store(result, layout::Source::steady);
  layout::add(result, layout::emitted_quanta, {n_res}, emitted);
  Table emitted_row(1, n_res);
  emitted_row.data = std::move(emitted);
  layout::add_emitted_energy(result, std::move(emitted_row), layout::Source::steady);
  namespace A = layout::attr;
  layout::set(result, A::time_is_infinite, std::int64_t{1});
  layout::set(result, A::steady_components, static_cast<std::int64_t>(n_combinations));
  layout::set(result, A::steady_dark_tolerance, options.dark_tolerance);
  layout::set(result, A::steady_max_dark_eigenvalue, max_dark);
  layout::set(result, A::steady_min_bright_eigenvalue, min_bright);
  layout::set(result, A::steady_excitation_balance, balance);
  layout::set(result, A::steady_trace, trace);
  if (progress) progress(1.0, "steady: done");
  return result;
}

}  // namespace qtraj
