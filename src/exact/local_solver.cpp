// solve_exact with local processes (src/exact/local_solver.hpp, docs/local.md "Exact").
//
// Outputs as solve_exact (contract tables, /jplus_jminus/mean, /populations/domain_<i>,
// /emitted_energy/mean) plus /total_spin/domain_<i> (P(j_i)) and /local_quanta/mean, all from the
// blocks' n-diagonal sector matrices: block b = (j_1..j_M) with populations p_s contributes to the
// observables exactly as a fixed-j component of solve_exact with weight 1 (observables.hpp), and
// its trace to P(j_i) of every domain.
#include "exact/local_solver.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "exact/components.hpp"
#include "exact/local_integrator.hpp"
#include "exact/local_system.hpp"
#include "exact/observables.hpp"
#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"

namespace qtraj::exact {
namespace {

// Largest state vector (doubles) of the local solve: ~12 vectors of 8 bytes, ~4 GB in all.
constexpr double kMaxLocalStateDoubles = 4e7;

}  // namespace

Result solve_exact_local(const RunConfig& config, const SolveContext& context) {
  const Model& model = config.model;
  const int m = model.num_domains();
  if (config.solver.backend != "cpu")
    throw InputError("solver.backend", "\"" + config.solver.backend + "\"",
                     "the exact solver runs models with [[local]] processes on the CPU only (use "
                     "backend = \"cpu\")");
  if (config.solver.integrator != "auto")
    throw InputError("solver.integrator", "\"" + config.solver.integrator + "\"",
                     "with [[local]] processes the exact solver chooses its integrator itself "
                     "(docs/local.md); use integrator = \"auto\"");
  check_dicke_dimension(model, layout::Source::exact);
  const double doubles = local_state_doubles(model);
  if (doubles > kMaxLocalStateDoubles)
    throw InputError("system.domains", fmt::format("{:g} numbers per state", doubles),
                     "too large for the exact solver with [[local]] processes (limit 4e7, about "
                     "4 GB in all); use solver.kind = \"trajectories\" or \"meanfield\"");
  const ProgressFn progress = progress_or_stop(context, "exact");
  const std::vector<double> times = config.time.times();
  const std::size_t n_t = times.size();
  const auto channels = collapse_channels(model);
  const std::size_t n_res =
      model.reservoirs.empty() ? static_cast<std::size_t>(std::max(0, m - 1)) : model.reservoirs.size();

  const LocalSystem system(model, channels);
  const Eigen::VectorXd y0 = system.initial_state(domain_components(model));

  DiagonalObservables observables(model, n_t);
  Table emitted(n_t, n_res);
  std::vector<Table> total_spin;
  for (int i = 0; i < m; ++i)
    total_spin.emplace_back(n_t, static_cast<std::size_t>(model.spins[i] / 2 + 1));
  std::vector<double> local_quanta(n_t * static_cast<std::size_t>(m) * 2, 0.0);
  auto observe = [&](std::size_t k, const Eigen::VectorXd& y) {
    for (int b = 0; b < system.num_blocks(); ++b) {
      const std::vector<int>& two_j = system.two_j(b);
      observables.add(k, system.space(b), two_j, 1.0, system.populations(y, b));
      const double trace = system.block_trace(y, b);
      for (int i = 0; i < m; ++i)
        total_spin[i](k, static_cast<std::size_t>((two_j[i] - model.spins[i] % 2) / 2)) += trace;
    }
    for (std::size_t c = 0; c < channels.size(); ++c)
      emitted(k, channels[c].reservoir) +=
          channels[c].raising ? -system.channel_quanta(y, c) : system.channel_quanta(y, c);
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < 2; ++p)
        local_quanta[(k * static_cast<std::size_t>(m) + i) * 2 + p] = system.local_quanta(y, i, p);
  };
  std::function<void(double)> report;
  if (progress)
    report = [&](double t) {
      progress(times.back() > times.front() ? (t - times.front()) / (times.back() - times.front()) : 1.0,
               "exact: local processes");
    };
  // Nothing raises n: ESDIRK with the top-down stage solves (local_system.hpp solve_stage); else
  // the explicit Dormand-Prince (docs/local.md "Exact").
  const double rtol = config.solver.rtol, atol = config.solver.atol;
  const auto apply = [&](const Eigen::VectorXd& y, Eigen::VectorXd& out) { system.apply(y, out); };
  std::int64_t linear_iterations = 0;
  const bool implicit = system.cascade();
  const ExplicitStats stats =
      implicit
          ? integrate_esdirk(
                apply,
                [&](double hg, const Eigen::VectorXd& rhs, Eigen::VectorXd& y) {
                  return system.solve_stage(hg, rhs, y, 1e-3 * rtol, 1e-3 * atol);
                },
                system.state_size(), y0, times, rtol, atol,
                0.1 * std::pow(std::max(rtol, 1e-14), 0.25) / std::max(1.0, system.max_rate()),
                observe, report, &linear_iterations)
          : integrate_dopri5(apply, y0, times, rtol, atol, 0.1 / std::max(1.0, system.max_rate()),
                             observe, report);

  Result result;
  result.solver = "exact";
  result.time = times;
  result.resize(n_t, m);
  observables.store(result, layout::Source::exact);
  layout::add_emitted_energy(result, std::move(emitted), layout::Source::exact);
  for (int i = 0; i < m; ++i)
    layout::add_domain(result, layout::total_spin, i, {total_spin[i].rows, total_spin[i].cols},
                       std::move(total_spin[i].data));
  layout::add(result, layout::local_quanta_mean, {n_t, static_cast<std::uint64_t>(m), 2},
              std::move(local_quanta));
  namespace A = layout::attr;
  layout::set(result, A::exact_steps, stats.steps);
  layout::set(result, A::exact_rejected_steps, stats.rejected);
  layout::set(result, A::exact_gmres_iterations, linear_iterations);
  layout::set(result, A::exact_components, static_cast<std::int64_t>(system.num_blocks()));
  layout::set(result, A::exact_integrator,
              std::string(implicit ? "ESDIRK4(3)6L[2]SA, top-down stage solves (GMRES where "
                                     "dephasing couples the blocks)"
                                   : "Dormand-Prince 5(4)") +
                  " on the total-spin blocks' sector matrices (local processes)");
  layout::set(result, A::exact_integrator_requested, config.solver.integrator);
  layout::set(result, A::exact_sweeps, stats.applications);
  layout::set(result, A::exact_dense_kernels, std::string("Eigen"));
  if (progress) progress(1.0, "exact: done");
  return result;
}

}  // namespace qtraj::exact
