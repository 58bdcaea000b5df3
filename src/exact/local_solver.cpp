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
#include <limits>
#include <utility>
#include <string>

#include <fmt/format.h>

#include "exact/components.hpp"
#include "exact/local_integrator.hpp"
#include "exact/local_steady.hpp"
#include "exact/local_system.hpp"
#include "exact/observables.hpp"
#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"

namespace qtraj::exact {
namespace {

// Largest state vector (doubles) of the local solve: ~12 vectors of 8 bytes, ~4 GB in all.
constexpr double kMaxLocalStateDoubles = 4e7;

}  // namespace

LocalObservables::LocalObservables(const Model& model, const std::vector<Channel>& channels,
                                   std::size_t rows)
    : model_(model),
      channels_(channels),
      rows_(rows),
      diagonal_(model, rows),
      emitted_(rows, model.reservoirs.empty()
                         ? static_cast<std::size_t>(std::max(0, model.num_domains() - 1))
                         : model.reservoirs.size()),
      local_quanta_(rows * static_cast<std::size_t>(model.num_domains()) * 2, 0.0) {
  for (int i = 0; i < model.num_domains(); ++i)
    total_spin_.emplace_back(rows, static_cast<std::size_t>(model.spins[i] / 2 + 1));
}

void LocalObservables::add(std::size_t k, const LocalSystem& system, const Eigen::VectorXd& y) {
  const int m = model_.num_domains();
  for (int b = 0; b < system.num_blocks(); ++b) {
    const std::vector<int>& two_j = system.two_j(b);
    diagonal_.add(k, system.space(b), two_j, 1.0, system.populations(y, b));
    const double trace = system.block_trace(y, b);
    for (int i = 0; i < m; ++i)
      total_spin_[i](k, static_cast<std::size_t>((two_j[i] - model_.spins[i] % 2) / 2)) += trace;
  }
  for (std::size_t c = 0; c < channels_.size(); ++c)
    emitted_(k, channels_[c].reservoir) +=
        channels_[c].raising ? -system.channel_quanta(y, c) : system.channel_quanta(y, c);
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < 2; ++p)
      local_quanta_[(k * static_cast<std::size_t>(m) + i) * 2 + p] = system.local_quanta(y, i, p);
}

Table LocalObservables::store(Result& result, layout::Source source) {
  const int m = model_.num_domains();
  diagonal_.store(result, source);
  for (int i = 0; i < m; ++i)
    layout::add_domain(result, layout::total_spin, i, {total_spin_[i].rows, total_spin_[i].cols},
                       std::move(total_spin_[i].data));
  layout::add(result, layout::local_quanta_mean, {rows_, static_cast<std::uint64_t>(m), 2},
              std::move(local_quanta_));
  return std::move(emitted_);
}

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

  LocalSystem system(model, channels);
  system.set_threads(resolve_thread_count(config.solver.threads));
  const Eigen::VectorXd y0 = system.initial_state(domain_components(model));

  LocalObservables observables(model, channels, n_t);
  auto observe = [&](std::size_t k, const Eigen::VectorXd& y) { observables.add(k, system, y); };
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
  // The stage solves' products (sectors of at most a few hundred): one BLAS thread.
  const BlasThreads blas(1);
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
  layout::add_emitted_energy(result, observables.store(result, layout::Source::exact),
                             layout::Source::exact);
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

Result solve_steady_local(const RunConfig& config, const SolveContext& context) {
  const Model& model = config.model;
  // The sweep needs a cascade (nothing raises n): refuse pumping in one line (nbar > 0 is refused
  // by solve_steady).
  for (std::size_t k = 0; k < model.local.size(); ++k)
    if (model.local[k].pumping > 0.0)
      throw InputError("local[" + std::to_string(k + 1) + "].pumping",
                       fmt::format("{}", model.local[k].pumping),
                       "the steady solver handles local emission and dephasing, not pumping "
                       "(docs/local.md); use solver.kind = \"exact\" to a long time");
  check_dicke_dimension(model, layout::Source::steady);
  const double doubles = local_state_doubles(model);
  if (doubles > kMaxLocalStateDoubles)
    throw InputError("system.domains", fmt::format("{:g} numbers per state", doubles),
                     "too large for the steady solver with [[local]] processes (limit 4e7); use "
                     "solver.kind = \"meanfield\"");
  const ProgressFn progress = progress_or_stop(context, "steady");
  const auto channels = collapse_channels(model);
  LocalSystem system(model, channels);
  system.set_threads(resolve_thread_count(config.solver.threads));
  const Eigen::VectorXd y0 = system.initial_state(domain_components(model));
  constexpr double kDarkTolerance = 1e-10;
  // Without dephasing the per-block sweep (LocalSystem::steady); with it the coupled sector solve
  // (local_steady.hpp).
  bool dephasing = false;
  for (const LocalRates& r : model.local_rates()) dephasing = dephasing || r.dephasing > 0.0;
  LocalSteadyStats stats;
  const Eigen::VectorXd y = dephasing ? local_steady_dephasing(system, model, y0, kDarkTolerance, stats)
                                      : system.steady(y0, kDarkTolerance);
  LocalObservables observables(model, channels, 1);
  observables.add(0, system, y);

  Result result;
  result.solver = "steady";
  result.time = {std::numeric_limits<double>::infinity()};
  result.resize(1, model.num_domains());
  Table emitted = observables.store(result, layout::Source::steady);
  layout::add(result, layout::emitted_quanta, {emitted.cols}, emitted.data);
  layout::add_emitted_energy(result, std::move(emitted), layout::Source::steady);
  namespace A = layout::attr;
  layout::set(result, A::time_is_infinite, std::int64_t{1});
  layout::set(result, A::steady_components, static_cast<std::int64_t>(system.num_blocks()));
  layout::set(result, A::steady_dark_tolerance, kDarkTolerance);
  double trace = 0.0;
  for (int b = 0; b < system.num_blocks(); ++b) trace += system.block_trace(y, b);
  layout::set(result, A::steady_trace, trace);
  // n(0) - n(inf) - (quanta through the reservoirs and the local emission).
  double balance = 0.0;
  for (int b = 0; b < system.num_blocks(); ++b) {
    const Eigen::VectorXd p0 = system.populations(y0, b), p1 = system.populations(y, b);
    const DickeSpace& space = system.space(b);
    int shift = 0;
    for (int i = 0; i < model.num_domains(); ++i)
      shift += static_cast<int>((model.spins[i] - system.two_j(b)[i]) / 2);
    for (std::int64_t st = 0; st < space.dim(); ++st)
      balance += (p0[st] - p1[st]) * (space.excitation(st) + shift);
  }
  for (std::size_t c = 0; c < channels.size(); ++c) balance -= system.channel_quanta(y, c);
  for (int i = 0; i < model.num_domains(); ++i) balance -= system.local_quanta(y, i, 0);
  layout::set(result, A::steady_excitation_balance, balance);
  if (progress) progress(1.0, "steady: done");
  return result;
}

}  // namespace qtraj::exact
