// solve_exact: the Lindblad master equation in the Dicke basis (docs/design.md section 4).
//
// The initial state is a mixture over the cartesian product of the domains' fixed-j components
// (initial_components); weights multiply. Each combination lives in its own DickeSpace(two_j) and
// is integrated separately (esdirk.cpp on the cascade of sector_system.cpp); the
// weighted observables (observables.hpp) are summed.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "qtraj/backend/cuda_dense.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/exact/esdirk.hpp"
#include "qtraj/exact/laplace_integrator.hpp"
#include "exact/components.hpp"
#include "exact/local_solver.hpp"
#include "exact/observables.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

// sum_n d_n^2 above which the exact solver refuses (about 1.6 GB per state vector).
constexpr double kMaxBlockEntries = 2e8;
// Largest total size of the /populations/domain_i tables.
constexpr double kMaxPopulationEntries = 1e8;

}  // namespace

Result solve_exact(const RunConfig& config, const SolveContext& context) {
  // The model, tolerances and choices were checked by the parser (run_config.cpp); what is
  // checked here depends on this solver (sizes, temperature, the device).
  const Model& model = config.model;
  // Local processes: the total-spin blocks (local_solver.hpp); without them the code below runs
  // unchanged.
  if (model.has_local()) return exact::solve_exact_local(config, context);
  const double rtol = config.solver.rtol, atol = config.solver.atol;
  const ProgressFn progress = progress_or_stop(context, "exact");
  const int m = model.num_domains();
  const std::vector<double> times = config.time.times();
  const std::size_t n_t = times.size();
  const auto channels = collapse_channels(model);
  // Double precision holds the dark (rate-0) directions only to ~1e-16 per unit of rate x time:
  // beyond rate * t ~ 1e10 round-off accumulates visibly (measured: 3e-6 at 1e11, garbage at
  // 1e40). Every steady state of these models is reached long before.
  double max_rate = 0.0;
  for (const auto& c : channels) max_rate = std::max(max_rate, c.rate);
  if (max_rate * config.time.end > 1e10)
    throw InputError("time.end", fmt::format("{}", config.time.end),
                     "the exact solver needs gamma (nbar + 1) * end <= 1e10 (steady states are "
                     "reached long before; double precision is not enough beyond)");
  const std::size_t n_res =
      model.reservoirs.empty() ? static_cast<std::size_t>(std::max(0, m - 1)) : model.reservoirs.size();

  const std::vector<std::vector<DomainComponent>> per_domain = exact::domain_components(model);
  const std::size_t n_combinations = exact::num_combinations(per_domain);

  // Early size checks, before anything large is allocated: the full Dicke dimension (the
  // largest component) and the population tables n_t x sum_i (N_i + 1).
  exact::check_dicke_dimension(model, layout::Source::exact);
  double pop_entries = 0.0;
  for (int i = 0; i < m; ++i)
    pop_entries += static_cast<double>(n_t) * (static_cast<double>(model.spins[i]) + 1.0);
  if (pop_entries > kMaxPopulationEntries)
    throw InputError("time.points", std::to_string(n_t),
                     "the exact solver's population tables (points x sum_i (N_i + 1)) would "
                     "hold more than 1e8 numbers; use fewer output points");

  // solver.backend = "cuda" (else "cpu"): refuse in one line, before any set-up, where cuBLAS
  // cannot run (CPU-only build, no device, no loadable cuBLAS).
  const bool on_gpu = config.solver.backend == "cuda";
  if (std::string why; on_gpu && !cuda::cublas_dense_available(&why))
    throw InputError("solver.backend", "\"cuda\"",
                     "the exact solver's cuBLAS products cannot run here: " + why +
                         "; use solver.backend = \"cpu\"");

  Result result;
  result.solver = "exact";
  result.time = times;
  result.resize(n_t, m);
  exact::DiagonalObservables observables(model, n_t);
  Table emitted(n_t, n_res);

  // solver.integrator: laplace needs zero temperature (the resolvent is one exact sweep only
  // when nothing flows up). auto: laplace at zero temperature with a sweep budget (a Laplace step
  // costs ~2 (M + 1) sweeps per output interval, so a grid with many output times in the
  // superradiant burst hands over to ESDIRK, whose cost does not depend on the grid), else esdirk.
  bool has_raising = false;
  for (const auto& c : channels) has_raising = has_raising || c.raising;
  const std::string& integrator = config.solver.integrator;  // auto | esdirk | laplace
  if (integrator == "laplace" && has_raising)
    throw InputError("solver.integrator", "\"laplace\"",
                     "needs zero temperature (nbar = 0 on every reservoir); use esdirk or auto");
  // (Below rtol = 1e-12 the Laplace steps' rounding, ~1e-14 per step, is near the tolerance.)
  const bool laplace =
      integrator == "laplace" || (integrator == "auto" && !has_raising && rtol >= 1e-12);
  double esdirk_from = -1.0;
  exact::LaplaceOptions laplace_options;
  laplace_options.sweep_budget = integrator == "auto" ? exact::kDefaultLaplaceBudget : 0.0;
  laplace_options.stop = context.stop ? &context.stop->flag() : nullptr;
  // The per-sector products run on BLAS where the build has one (dense_kernels.hpp), else on
  // Eigen: with solver.threads threads (0: all cores) once the largest sector has d_n >= 256, one
  // below (measured, bench/RESULTS.md: for (30,15,5), d_n <= 96, two threads cost 70% more CPU
  // than one in synchronisation; for (60,30,10), d_n = 341, they shorten the stage solves).
  std::string dense;
  std::int64_t steps = 0, rejected = 0, linear_iterations = 0, solves = 0;
  std::size_t done = 0;
  exact::for_each_combination(per_domain, [&](const exact::Combination& combination) {
    const auto& pick = combination.pick;
    const double weight = combination.weight;
    const std::vector<int>& two_j = combination.two_j;
    const std::size_t index = done++;
    if (weight <= 0.0) return;
    const DickeSpace space(two_j);
    // Memory: about a dozen state vectors of sum_n d_n^2 doubles, plus per-channel matrices.
    double blocks = 0;
    for (int n = 0; n <= space.max_excitation(); ++n)
      blocks += static_cast<double>(space.sector_size(n)) * static_cast<double>(space.sector_size(n));
    if (blocks > kMaxBlockEntries)
      throw InputError("system.domains", "sum of squared sector sizes " + std::to_string(blocks),
                       "too large for the exact solver (limit " +
                           std::to_string(kMaxBlockEntries) +
                           "); use solver.kind = \"trajectories\" or \"meanfield\"");
    int largest = 0;
    for (int n = 0; n <= space.max_excitation(); ++n)
      largest = std::max(largest, static_cast<int>(space.sector_size(n)));
    // Laplace: the resolvents run on `threads` workers, one BLAS thread each. The count holds
    // for the whole component (BlasThreads: other solves in this process wait or share it).
    const exact::BlasThreads blas(laplace || largest < 256 ? 1 : config.solver.threads);
    dense = blas.description();
    // solver.backend = "cuda": the stage products on cuBLAS, V_n and G_c resident on the device
    // (one device, so the Laplace resolvents then run one at a time).
    std::shared_ptr<exact::DenseDevice> device;
    if (on_gpu) device = cuda::make_cublas_dense();
    if (device) dense = device->description();
    laplace_options.threads = device ? 1 : resolve_thread_count(config.solver.threads);
    // A stop request during the set-up ends it after the sector or channel in progress.
    const auto poll = [&context] {
      if (context.stop && context.stop->requested())
        throw Interrupted("exact: " + stop_reason(context.stop->signal()) + " (set-up)",
                          context.stop->signal());
    };
    const exact::SectorSystem system(
        space, channels, device ? exact::DenseKernels::cublas : exact::default_dense_kernels(),
        device, poll);
    const std::vector<std::complex<double>> psi = exact::product_state(space, pick);
    auto observe = [&](std::size_t k, const Eigen::VectorXd& y) {
      observables.add(k, space, two_j, weight, system.populations(y));
      const Eigen::VectorXd e = system.exchanged(y);
      for (std::size_t c = 0; c < channels.size(); ++c)
        emitted(k, channels[c].reservoir) += weight * (channels[c].raising ? -e[c] : e[c]);
    };
    std::function<void(double)> report;
    if (progress)
      report = [&](double frac) {
        progress((index + frac) / n_combinations,
                 "exact: component " + std::to_string(index + 1) + "/" +
                     std::to_string(n_combinations));
      };
    const auto stats =
        laplace ? exact::integrate_laplace(system, system.initial_state(psi), times, rtol, atol,
                                           laplace_options, observe, report)
                : exact::integrate(system, system.initial_state(psi), times, rtol, atol, observe,
                                   report);
    steps += stats.steps;
    rejected += stats.rejected;
    solves += stats.solves;
    if (stats.esdirk_from >= 0.0)
      esdirk_from = esdirk_from < 0.0 ? stats.esdirk_from : std::min(esdirk_from, stats.esdirk_from);
    linear_iterations += system.linear_iterations();
  });

  observables.store(result, layout::Source::exact);
  layout::add_emitted_energy(result, std::move(emitted), layout::Source::exact);
  namespace A = layout::attr;
  layout::set(result, A::exact_steps, steps);
  layout::set(result, A::exact_rejected_steps, rejected);
  layout::set(result, A::exact_gmres_iterations, linear_iterations);  // thermal runs only
  layout::set(result, A::exact_components, static_cast<std::int64_t>(n_combinations));
  layout::set(
      result, A::exact_integrator,
      !laplace ? std::string("ESDIRK4(3)6L[2]SA in the K_n eigenbasis")
      : esdirk_from < 0.0
          ? fmt::format("Laplace inversion, parabolic contour, {} nodes, in the K_n eigenbasis",
                        exact::laplace_rule(rtol).nodes)
          : fmt::format("Laplace inversion, parabolic contour, {} nodes, to t = {}, then "
                        "ESDIRK4(3)6L[2]SA (sweep budget spent), in the K_n eigenbasis",
                        exact::laplace_rule(rtol).nodes, esdirk_from));
  layout::set(result, A::exact_integrator_requested, integrator);
  layout::set(result, A::exact_sweeps, solves);  // implicit stages or resolvents, per component
  layout::set(result, A::exact_dense_kernels, dense);
  if (progress) progress(1.0, "exact: done");
  return result;
}

}  // namespace qtraj
