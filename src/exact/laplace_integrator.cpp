// Laplace-inversion steps of the exact solver (include/qtraj/exact/laplace_integrator.hpp).
//
// One step from t to t + h: the M + 1 resolvents x_j = (z_j I - A)^{-1} y are independent; up to
// `threads` of them are solved at once, each by one worker with its own buffers, and their
// contributions c_j Re(w_j x_j) (c_0 = 1, c_j = 2) are added to y(t + h) strictly in the order
// j = 0, 1, ..., M (a worker that finishes node j waits for node j - 1 to be added), so the
// result is the same bit for bit whatever the number of threads.
#include <algorithm>
#include <cmath>
#include <complex>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "qtraj/error.hpp"
#include "qtraj/exact/laplace_integrator.hpp"

namespace qtraj {
namespace exact {

LaplaceRule laplace_rule(double rtol) {
  // Scalar test e^{lambda h}, lambda in (-inf, 0]: the best (a, k) for M + 1 nodes has max error
  // ~10^{-0.93 M} (a ~ 0.32 M, k ~ 2.5 / M; fitted numerically, docs/exact.md). The cascade's
  // non-normality costs ~3 more digits at the same M (measured against ESDIRK), hence + 4.
  const double digits = -std::log10(std::max(rtol, 1e-14)) + 4.0;
  const int m = std::clamp(static_cast<int>(std::ceil(digits / 0.93)), 8, 24);
  LaplaceRule rule;
  rule.nodes = m + 1;
  rule.a = 0.316 * m;
  rule.k = 2.5 / m;
  return rule;
}

namespace {

using cd = std::complex<double>;

// y_new = exp(h A) y by the rule.
// The blocks of y above sector top are zero; those of y_new are zero on return (y_new's entries
// beyond block_end(top) must be zero on entry).
// stop (may be null): when it becomes true no further node starts; the step is then unfinished.
void laplace_step(const SectorSystem& system, const LaplaceRule& rule, double h, int top,
                  const Eigen::VectorXd& y, Eigen::VectorXd& y_new, int threads,
                  const std::atomic<bool>* stop) {
  const double mu = rule.a / h;
  const int nodes = rule.nodes;
  y_new.head(system.block_end(top)).setZero();
  std::mutex mutex;
  std::condition_variable turn;
  int next_to_add = 0;
  int next_node = 0;
  // The first exception of any worker (a device error, bad_alloc): the others stop taking nodes
  // and stop waiting for their turn, and it is rethrown here after the join.
  std::exception_ptr failure;
  auto worker = [&]() {
    Eigen::VectorXd x_re, x_im;
    try {
      for (;;) {
        int j;
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (failure || next_node >= nodes) return;
          if (stop && stop->load(std::memory_order_relaxed)) {
            turn.notify_all();
            return;
          }
          j = next_node++;
        }
        const double u = j * rule.k;
        const cd z = mu * cd(1.0, u) * cd(1.0, u);
        const cd dz = cd(0.0, 2.0 * mu) * cd(1.0, u);
        system.resolvent(z, y, x_re, x_im, top);
        // c_j Re(w_j x) = c_j (Re w_j x_re - Im w_j x_im), w_j = e^{z h} z' k / (2 pi i).
        const cd w = std::exp(z * h) * dz * (rule.k / (2.0 * M_PI)) / cd(0.0, 1.0);
        const double c = j == 0 ? 1.0 : 2.0;
        std::unique_lock<std::mutex> lock(mutex);
        const auto stopped = [&] { return stop && stop->load(std::memory_order_relaxed); };
        turn.wait(lock, [&] { return failure || next_to_add == j || stopped(); });
        if (failure || next_to_add != j) {  // (a stop: wake the workers waiting after j)
          turn.notify_all();
          return;
        }
        y_new.head(x_re.size()) += (c * w.real()) * x_re - (c * w.imag()) * x_im;
        ++next_to_add;
        turn.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = std::current_exception();
      turn.notify_all();
    }
  };
  const int workers = std::max(1, std::min(threads, nodes));
  if (workers == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int i = 0; i < workers; ++i) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

IntegrationStats integrate_laplace(
    const SectorSystem& system, Eigen::VectorXd y, const std::vector<double>& times, double rtol,
    double atol, const LaplaceOptions& options,
    const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
    const std::function<void(double)>& progress) {
  if (system.has_raising())
    throw std::logic_error("integrate_laplace: zero temperature only (no raising channel)");
  IntegrationStats stats;
  if (times.empty()) return stats;
  const LaplaceRule rule = options.rule.nodes > 0 ? options.rule : laplace_rule(rtol);
  const double span = times.back() - times.front();
  observe(0, y);
  // y and y_new are zero above sector top (drained sectors are dropped after every step and stay
  // zero at zero temperature), so every vector operation runs over their head only.
  int top = system.drop_drained_sectors(y, atol);
  // Sweep cost of the sectors 0..n, ~ sum d^3.
  auto sweep_cost = [&](int n) {
    double c = 0.0;
    for (int q = 0; q <= n; ++q) c += std::pow(static_cast<double>(system.space().sector_size(q)), 3);
    return c;
  };
  const double budget = options.sweep_budget * sweep_cost(top);
  double spent = 0.0;
  Eigen::VectorXd y_new = Eigen::VectorXd::Zero(system.size());
  for (std::size_t k = 1; k < times.size(); ++k) {
    const double h = times[k] - times[k - 1];
    if (h <= 0.0) {  // a repeated output time
      observe(k, y);
      continue;
    }
    const double step_cost = 2.0 * rule.nodes * sweep_cost(top);
    if (budget > 0.0 && spent + step_cost > budget) {
      // Budget spent: ESDIRK integrates the rest of the grid from times[k - 1].
      stats.esdirk_from = times[k - 1];
      const std::vector<double> rest(times.begin() + static_cast<std::ptrdiff_t>(k - 1), times.end());
      const IntegrationStats tail = integrate(
          system, y, rest, rtol, atol,
          [&](std::size_t q, const Eigen::VectorXd& v) {
            if (q > 0) observe(k - 1 + q, v);
          },
          progress ? std::function<void(double)>([&](double f) {
            const double t = rest.front() + f * (rest.back() - rest.front());
            progress(span > 0 ? (t - times.front()) / span : 1.0);
          })
                   : std::function<void(double)>());
      stats.steps += tail.steps;
      stats.solves += tail.solves;
      return stats;
    }
    spent += step_cost;
    const double trace_before = system.trace(y);
    laplace_step(system, rule, h, top, y, y_new, options.threads, options.stop);
    if (options.stop && options.stop->load()) {  // the step is unfinished: stop here
      if (progress) progress(span > 0 ? (times[k - 1] - times.front()) / span : 0.0);
      throw Error("exact solver: stopped on request at t = " + std::to_string(times[k - 1]));
    }
    stats.solves += rule.nodes;
    ++stats.steps;
    const double trace_after = system.trace(y_new);
    if (!std::isfinite(trace_after))
      throw Error("exact solver: the Laplace step produced a non-finite value at t = " +
                  std::to_string(times[k]));
    // Guard (docs/exact.md 1): the trace is conserved exactly, but it sees the rule only at the
    // eigenvalue 0 (tr (z - A)^{-1} y = tr(y) / z); the populations, diagonals of a positive
    // matrix, must not go negative, which the failures of a contour too close to the cascade's
    // large resolvent produce (measured: -0.34 on (40,2)). Either: redo the interval by ESDIRK.
    if (std::abs(trace_after - trace_before) > rtol ||
        system.populations(y_new).minCoeff() < -rtol) {
      ++stats.rejected;
      const IntegrationStats redo = integrate(
          system, y, {times[k - 1], times[k]}, rtol, atol,
          [&](std::size_t q, const Eigen::VectorXd& v) {
            if (q == 1) y_new = v;
          });
      stats.solves += redo.solves;
    }
    y.swap(y_new);
    const int new_top = system.drop_drained_sectors(y, atol, top);
    // y_new (the previous state) must be zero above new_top for the next step.
    y_new.segment(system.block_end(new_top), system.block_end(top) - system.block_end(new_top))
        .setZero();
    top = new_top;
    observe(k, y);
    if (progress) progress(span > 0 ? (times[k] - times.front()) / span : 1.0);
  }
  return stats;
}

}  // namespace exact
}  // namespace qtraj
