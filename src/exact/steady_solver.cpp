// solve_steady: the exact zero-temperature steady state (issue #12, docs/steady_state.md).
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
#include "qtraj/error.hpp"
#include "qtraj/exact/steady_state.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

// Largest swept sector: a few dense d x d matrices per sector in flight (6000: ~0.3 GB each).
constexpr std::int64_t kMaxSectorDim = 6000;
// Largest product Dicke dimension prod_i (N_i + 1) (as the exact solver).
constexpr double kMaxDickeDim = 5e7;

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
  double full_dim = 1.0;
  for (int i = 0; i < m; ++i) full_dim *= static_cast<double>(model.spins[i]) + 1.0;
  if (full_dim > kMaxDickeDim)
    throw InputError("system.domains", "Dicke dimension " + fmt::format("{:g}", full_dim),
                     "too large for the steady solver (limit 5e7); use solver.kind = "
                     "\"meanfield\"");
  const auto channels = collapse_channels(model);
  const std::size_t n_res = model.reservoirs.empty() ? static_cast<std::size_t>(std::max(0, m - 1))
                                                     : model.reservoirs.size();

  const std::vector<std::vector<DomainComponent>> per_domain = exact::domain_components(model);
  const std::size_t n_combinations = exact::num_combinations(per_domain);

  exact::SteadyOptions options;
  options.threads = config.solver.threads;
  std::vector<double> jz(m, 0.0), jpjm(m, 0.0), emitted(n_res, 0.0);
  std::vector<std::vector<double>> pops(m);
  for (int i = 0; i < m; ++i) pops[i].assign(static_cast<std::size_t>(model.spins[i] + 1), 0.0);
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
    for (std::int64_t s = 0; s < space.dim(); ++s) {
      const double ps = weight * st.populations[s];
      if (ps == 0.0) continue;
      for (int i = 0; i < m; ++i) {
        const int ki = space.k(s, i);
        jz[i] += ps * (ki - 0.5 * two_j[i]);
        jpjm[i] += ps * static_cast<double>(ki) * (two_j[i] - ki + 1);
        pops[i][static_cast<std::size_t>(ki + (model.spins[i] - two_j[i]) / 2)] += ps;
      }
    }
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
  for (int i = 0; i < m; ++i) {
    const double n_i = static_cast<double>(model.spins[i]);
    result.jz_over_n_mean(0, i) = jz[i] / n_i;
    result.excitations_mean(0, i) = jz[i] + 0.5 * n_i;
    if (!(std::fabs(result.jz_over_n_mean(0, i)) <= 0.5 + 1e-6))
      throw Error(fmt::format("steady solver: lost accuracy (<J_{}^z>/N_{} = {})", i + 1, i + 1,
                              result.jz_over_n_mean(0, i)));
  }
  auto add = [&](const std::string& path, std::vector<std::uint64_t> shape, std::vector<double> v,
                 const std::string& what) {
    Dataset d;
    d.path = path;
    d.shape = std::move(shape);
    d.values = std::move(v);
    d.attributes["description"] = what;
    result.extra.push_back(std::move(d));
  };
  add("/jplus_jminus/mean", {1, static_cast<std::uint64_t>(m)}, jpjm,
      "<J_i^+ J_i^-> at t = inf, 1 x M");
  for (int i = 0; i < m; ++i)
    add("/populations/domain_" + std::to_string(i + 1), {1, pops[i].size()}, pops[i],
        "P(k excited spins in domain " + std::to_string(i + 1) + ") at t = inf, 1 x (N_i + 1)");
  add("/emitted_quanta", {n_res}, emitted,
      "quanta (units of hbar w0) carried away by each reservoir over t in [0, inf), R");
  add("/emitted_energy/mean", {1, n_res}, emitted,
      "the same as /emitted_quanta, in the exact solver's layout (t = inf), 1 x R");
  result.attributes["time_is_infinite"] = std::int64_t{1};
  result.attributes["steady_components"] = static_cast<std::int64_t>(n_combinations);
  result.attributes["steady_dark_tolerance"] = options.dark_tolerance;
  result.attributes["steady_max_dark_eigenvalue"] = max_dark;
  result.attributes["steady_min_bright_eigenvalue"] = min_bright;
  result.attributes["steady_excitation_balance"] = balance;
  result.attributes["steady_trace"] = trace;
  if (progress) progress(1.0, "steady: done");
  return result;
}

}  // namespace qtraj
