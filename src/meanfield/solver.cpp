// solve_meanfield: the second-order cumulant equations (cumulant_equations.cpp) integrated with
// Rodas4 (rosenbrock.cpp) onto the run's output grid. docs/meanfield.md has the math.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <string>

#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/meanfield/auto_closure.hpp"
#include "qtraj/meanfield/cumulant_equations.hpp"
#include "qtraj/meanfield/moment_equations.hpp"
#include "qtraj/meanfield/rosenbrock.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {
// Unknowns (M^2 + M) up to which a dense LU beats the sparse one (M <= 7); see bench_meanfield.
constexpr int kDenseLimit = 56;
// The fourth-order hierarchy's Jacobian is much denser (quartic terms couple most moments): dense
// LU up to this many unknowns (three domains: 100 unknowns, dense 3x faster than sparse, bench).
constexpr int kDenseLimitFourthOrder = 400;

// The fourth-order closure (MomentEquations) through the same integrator and output layout.
Result solve_fourth_order(const RunConfig& config, const ProgressFn& progress, const StopRequest* stop);
// One named closure (not "auto").
Result solve_closure(const RunConfig& config, const ProgressFn& progress, const StopRequest* stop);
}  // namespace

Result solve_meanfield(const RunConfig& config, const SolveContext& context) {
  const ProgressFn progress = progress_or_stop(context, "meanfield");
  Result result;
  if (config.solver.closure != "auto") {
    result = solve_closure(config, progress, context.stop);
  } else {
    // auto (include/qtraj/meanfield/auto_closure.hpp, docs/meanfield.md 3.4): fourth_order where
    // trustworthy, z_right up front elsewhere or after a diverged fourth_order run.
    RunConfig fallback = config;
    fallback.solver.closure = "z_right";
    std::string reason = meanfield::auto_skips_fourth_order(config.model);
    if (reason.empty()) {
      RunConfig fourth = config;
      fourth.solver.closure = "fourth_order";
      try {
        result = solve_closure(fourth, progress, context.stop);
      } catch (const meanfield::ClosureDiverged& e) {
        reason = "fourth_order diverged (" + e.cause() + ")";
        std::cerr << "qtraj: solver.closure = auto fell back to z_right because " << reason
                  << ".\n";
      }
    }
    if (!reason.empty()) {
      result = solve_closure(fallback, progress, context.stop);
      layout::set(result, layout::attr::meanfield_closure_auto, "z_right, because " + reason);
    } else {
      layout::set(result, layout::attr::meanfield_closure_auto,
          "fourth_order: at most " + std::to_string(meanfield::kAutoMaxDomains) + " domains, N_i <= " +
          std::to_string(meanfield::kAutoMaxSpins) + ", nbar = 0, no coherent state, and it converged");
    }
  }
  layout::set(result, layout::attr::meanfield_closure_requested, config.solver.closure);
  return result;
}

namespace {

// Output times, checked: strictly increasing.
std::vector<double> output_times(const RunConfig& config) {
  std::vector<double> times = config.time.times();
  for (std::size_t i = 1; i < times.size(); ++i)
    if (!(times[i] > times[i - 1]))
      throw InputError("time", "", "output times must be strictly increasing");
  return times;
}

// Progress in log time (the grid is usually log-spaced); about 100 reports at most.
class RowProgress {
 public:
  RowProgress(const RunConfig& config, const std::vector<double>& times, const ProgressFn& progress)
      : log_grid_(config.time.spacing == TimeGrid::Spacing::log),
        times_(times),
        progress_(progress),
        log_span_(times.size() > 2 ? std::log(times.back() / times[1]) : 0.0) {}
  void operator()(std::size_t row) {
    const std::size_t n_t = times_.size();
    if (!progress_ || !(row == n_t - 1 || row >= last_ + std::max<std::size_t>(1, n_t / 100)))
      return;
    last_ = row;
    double fraction = static_cast<double>(row) / static_cast<double>(n_t - 1);
    if (log_grid_ && row >= 1 && log_span_ > 0) fraction = std::log(times_[row] / times_[1]) / log_span_;
    progress_(fraction, "meanfield t = " + std::to_string(times_[row]));
  }

 private:
  bool log_grid_;
  const std::vector<double>& times_;
  const ProgressFn& progress_;
  double log_span_;
  std::size_t last_ = 0;
};

// Rodas4 over the output grid for either equation set (CumulantEquations, MomentEquations: rhs,
// jacobian, growth_rate), the step capped so that h * (growth rate of C at fixed z) <= 1 (the
// superradiant instability is resolved); dense LU, or sparse LU (fixed pattern) when `sparse`;
// `check` (optional) after every accepted step. Records the integrator's attributes in `result`.
// A stop request is honoured after the accepted step it arrives in (Interrupted), not only at
// the output rows: a long grid interval may take many steps.
template <class Equations, class Store>
void integrate_moments(const Equations& eq, bool sparse, const Eigen::VectorXd& y0,
                       const std::vector<double>& times, const RunConfig& config, Store&& store,
                       Result& result, const StopRequest* stop,
                       const meanfield::StepCheckFn& step_check = {}) {
  const auto start = std::chrono::steady_clock::now();
  const meanfield::StepCheckFn check = [&](double t, const Eigen::VectorXd& y) {
    if (step_check) step_check(t, y);
    if (stop && stop->requested())
      throw Interrupted("meanfield: " + stop_reason(stop->signal()) + " (meanfield t = " +
                            std::to_string(t) + ")",
                        stop->signal());
  };
  const auto rhs = [&](const Eigen::VectorXd& y, Eigen::VectorXd& dy) { eq.rhs(y, dy); };
  const meanfield::MaxStepFn cap = [&](const Eigen::VectorXd& y) {
    const double rate = eq.growth_rate(y);
    return rate > 0 ? 1.0 / rate : std::numeric_limits<double>::infinity();
  };
  const auto stats =
      sparse ? meanfield::integrate_rodas4_sparse(
                   rhs,
                   [&](const Eigen::VectorXd& y, Eigen::SparseMatrix<double>& j) {
                     eq.jacobian(y, j);
                   },
                   y0, times, config.solver.rtol, config.solver.atol, store, cap, check)
             : meanfield::integrate_rodas4(
                   rhs, [&](const Eigen::VectorXd& y, Eigen::MatrixXd& j) { eq.jacobian(y, j); },
                   y0, times, config.solver.rtol, config.solver.atol, store, cap, check);
  namespace A = layout::attr;
  layout::set(result, A::meanfield_integrator,
              std::string(sparse ? "rodas4 (sparse LU)" : "rodas4 (dense LU)"));
  layout::set(result, A::meanfield_steps, static_cast<std::int64_t>(stats.steps));
  layout::set(result, A::meanfield_rejected_steps, static_cast<std::int64_t>(stats.rejected));
  layout::set(result, A::meanfield_seconds,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

// The result's common part: solver, time grid, zeroed tables.
Result empty_result(const std::vector<double>& times, int m) {
  Result result;
  result.solver = "meanfield";
  result.time = times;
  result.resize(times.size(), static_cast<std::size_t>(m));
  return result;
}

Result solve_closure(const RunConfig& config, const ProgressFn& progress, const StopRequest* stop) {
  const Model& model = config.model;
  if (meanfield::parse_closure(config.solver.closure) == meanfield::Closure::fourth_order) {
    // The generated hierarchy has no local terms (docs/meanfield.md section 8).
    refuse_local_processes(model, "solver.closure = \"fourth_order\" of the mean-field solver");
    return solve_fourth_order(config, progress, stop);
  }
  const meanfield::CumulantEquations eq(model, meanfield::parse_closure(config.solver.closure));
  const int m = eq.num_domains();
  const std::vector<double> times = output_times(config);
  const std::size_t n_t = times.size();
  Result result = empty_result(times, m);
  Table jpjm(n_t, m);
  std::vector<double> jminus(eq.tracks_jminus() ? n_t * m * 2 : 0, 0.0);
  std::vector<double> quanta(eq.tracks_local() ? n_t * m * 2 : 0, 0.0);
  RowProgress report(config, times, progress);
  auto store = [&](std::size_t row, const Eigen::VectorXd& y) {
    const meanfield::Moments mom = eq.unpack(y);
    for (int i = 0; i < m; ++i) {
      const double n = static_cast<double>(model.spins[i]);
      result.jz_over_n_mean(row, i) = y[eq.z_index(i)];
      result.excitations_mean(row, i) = mom.z[i] + n / 2;
      jpjm(row, i) = mom.C(i, i).real();
      if (eq.tracks_jminus()) {
        jminus[(row * m + i) * 2] = mom.jminus[i].real();
        jminus[(row * m + i) * 2 + 1] = mom.jminus[i].imag();
      }
      if (eq.tracks_local())
        for (int p = 0; p < 2; ++p) quanta[(row * m + i) * 2 + p] = mom.quanta[2 * i + p];
    }
    report(row);
  };
  // Dense LU for few domains; sparse LU (fixed pattern, one symbolic analysis) beyond.
  integrate_moments(eq, eq.size() > kDenseLimit, eq.pack(eq.initial_moments()), times, config,
                    store, result, stop);

  layout::add_jplus_jminus_mean(result, std::move(jpjm), layout::Source::meanfield_second_order);
  if (eq.tracks_jminus())
    layout::add(result, layout::jminus_mean,
                {static_cast<std::uint64_t>(n_t), static_cast<std::uint64_t>(m), 2},
                std::move(jminus));
  if (eq.tracks_local())
    layout::add(result, layout::local_quanta_mean,
                {static_cast<std::uint64_t>(n_t), static_cast<std::uint64_t>(m), 2},
                std::move(quanta));
  const std::string rule =
      eq.closure() == meanfield::Closure::symmetric ? "<J^+ J^- J^z> symmetrised in J^z"
      : eq.closure() == meanfield::Closure::z_right ? "J^z moved right of J^+ J^- (C_ik, i < k)"
                                                    : "J^z moved left of J^+ J^- (C_ik, i < k)";
  layout::set(result, layout::attr::meanfield_closure,
              meanfield::closure_name(eq.closure()) + ": second-order cumulant, " + rule +
                  " and factorised, <J^+-> = 0 in third moments, cross-domain <J^z J^z> = "
                  "<J^z><J^z>");
  return result;
}

Result solve_fourth_order(const RunConfig& config, const ProgressFn& progress, const StopRequest* stop) {
  const Model& model = config.model;
  const meanfield::MomentEquations eq(model, 4);
  const int m = eq.num_domains();
  const std::vector<double> times = output_times(config);
  const std::size_t n_t = times.size();
  Result result = empty_result(times, m);
  Table jpjm(n_t, m);
  std::vector<int> c_ii(m);
  for (int i = 0; i < m; ++i) c_ii[i] = eq.c_index(i, i);
  RowProgress report(config, times, progress);
  // A truncated hierarchy can leave the physical range (docs/meanfield.md 3.3: small domains,
  // N >~ 1e4); then stop with a message rather than return a wrong curve. Two checks: <J_i^z>/N_i
  // at every output, and the runaway guard after every step (docs/meanfield.md 3.4), which stops
  // a finite-time blow-up at its start rather than at the integrator's step-size underflow.
  const auto at = [](double t) { return " at t = " + std::to_string(t); };
  auto store = [&](std::size_t row, const Eigen::VectorXd& y) {
    for (int i = 0; i < m; ++i) {
      const double n = static_cast<double>(model.spins[i]);
      if (!(std::abs(y[eq.z_index(i)]) <= 0.5 + 1e-6))
        throw meanfield::ClosureDiverged("<J_" + std::to_string(i + 1) + "^z>/N_" +
                                         std::to_string(i + 1) + " = " +
                                         std::to_string(y[eq.z_index(i)]) + at(times[row]));
      result.jz_over_n_mean(row, i) = y[eq.z_index(i)];
      result.excitations_mean(row, i) = y[eq.z_index(i)] * n + n / 2;
      jpjm(row, i) = y[c_ii[i]] * eq.scale(c_ii[i]);
    }
    report(row);
  };
  const meanfield::RunawayGuard guard(eq, model.spins);
  const meanfield::StepCheckFn check = [&](double t, const Eigen::VectorXd& y) {
    const std::string runaway = guard.check(y);
    if (!runaway.empty()) throw meanfield::ClosureDiverged(runaway + at(t));
  };
  try {
    integrate_moments(eq, eq.size() > kDenseLimitFourthOrder, eq.initial_state(), times, config,
                      store, result, stop, check);
  } catch (const InputError&) {
    throw;
  } catch (const Interrupted&) {
    throw;  // a stop request, not a divergence
  } catch (const meanfield::ClosureDiverged&) {
    throw;
  } catch (const Error& e) {
    // The integrator gave up (a step-size underflow, a failed LU): "meanfield: <what>".
    std::string what = e.what();
    if (what.rfind("meanfield: ", 0) == 0) what.erase(0, 11);
    throw meanfield::ClosureDiverged(what);
  }

  layout::add_jplus_jminus_mean(result, std::move(jpjm), layout::Source::meanfield_fourth_order);
  layout::set(result, layout::attr::meanfield_closure,
              "fourth_order: every normal-ordered moment of up to 4 collective spin operators is "
              "a variable (" + std::to_string(eq.size()) +
                  " here), fifth joint cumulants vanish, U(1)-charged moments are zero");
  return result;
}

}  // namespace
}  // namespace qtraj
