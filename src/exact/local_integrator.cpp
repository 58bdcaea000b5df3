// Dormand-Prince 5(4) for the local exact solve (src/exact/local_integrator.hpp).
#include "exact/local_integrator.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "qtraj/error.hpp"
#include "qtraj/exact/esdirk.hpp"

namespace qtraj::exact {
namespace {

// The step from t: h, or exactly to the next output time `target` when h reaches it or would
// leave a sliver before it (*lands = true); throws on a step below round-off.
double step_towards(double t, double h, double target, bool* lands) {
  double step = h;
  *lands = false;
  if (t + step >= target || (target - t - step) < 1e-12 * std::max(1.0, std::fabs(target))) {
    step = target - t;
    *lands = true;
  }
  if (!(step > 1e-14 * std::max(1.0, std::fabs(t))))
    throw Error(fmt::format("exact solver (local processes): step size underflow at t = {}", t));
  return step;
}

}  // namespace

ExplicitStats integrate_dopri5(const LinearApply& apply, Eigen::VectorXd y,
                               const std::vector<double>& times, double rtol, double atol,
                               double h0,
                               const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
                               const std::function<void(double)>& progress) {
  static constexpr double c[7] = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
  static constexpr double a[7][6] = {
      {0, 0, 0, 0, 0, 0},
      {1. / 5, 0, 0, 0, 0, 0},
      {3. / 40, 9. / 40, 0, 0, 0, 0},
      {44. / 45, -56. / 15, 32. / 9, 0, 0, 0},
      {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729, 0, 0},
      {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656, 0},
      {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84}};
  // b = a[6] (FSAL); e = b - bhat.
  static constexpr double e[7] = {71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200,
                                  22. / 525, -1. / 40};
  (void)c;
  ExplicitStats stats;
  if (times.empty()) return stats;
  double t = times.front();
  std::size_t next = 0;
  while (next < times.size() && times[next] <= t) observe(next++, y);
  const Eigen::Index n = y.size();
  std::array<Eigen::VectorXd, 7> k;
  for (auto& v : k) v = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd stage(n), y_new(n), err(n);
  apply(y, k[0]);
  ++stats.applications;
  double h = h0 > 0 ? h0 : 1e-3;
  while (next < times.size()) {
    const double target = times[next];
    bool lands = false;
    const double step = step_towards(t, h, target, &lands);
    for (int s = 1; s < 7; ++s) {
      stage = y;
      for (int j = 0; j < s; ++j)
        if (a[s][j] != 0.0) stage.noalias() += (step * a[s][j]) * k[j];
      if (s == 6) y_new = stage;
      apply(stage, k[s]);
      ++stats.applications;
    }
    err.setZero();
    for (int j = 0; j < 7; ++j)
      if (e[j] != 0.0) err.noalias() += (step * e[j]) * k[j];
    double norm = 0.0;
    for (Eigen::Index i = 0; i < n; ++i)
      norm = std::max(norm, std::fabs(err[i]) /
                                (atol + rtol * std::max(std::fabs(y[i]), std::fabs(y_new[i]))));
    const double factor =
        std::clamp(0.9 * std::pow(std::max(norm, 1e-10), -0.2), 0.2, 5.0);
    if (!(norm <= 1.0)) {
      ++stats.rejected;
      h = step * std::min(factor, 0.9);
      continue;
    }
    ++stats.steps;
    t = lands ? target : t + step;
    y.swap(y_new);
    std::swap(k[0], k[6]);  // first same as last
    if (!lands || step >= h) h = step * factor;  // a clipped step does not shrink h
    while (next < times.size() && times[next] <= t) observe(next++, y);
    if (progress) progress(t);
  }
  return stats;
}

ExplicitStats integrate_esdirk(const LinearApply& apply, const StageSolve& solve,
                               Eigen::Index solved_size, Eigen::VectorXd y, const std::vector<double>& times, double rtol,
                               double atol, double h0,
                               const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
                               const std::function<void(double)>& progress,
                               std::int64_t* linear_iterations) {
  const EsdirkTableau& tab = esdirk43();
  constexpr int s = EsdirkTableau::kStages;
  ExplicitStats stats;
  if (times.empty()) return stats;
  double t = times.front();
  std::size_t next = 0;
  while (next < times.size() && times[next] <= t) observe(next++, y);
  const Eigen::Index n = y.size();
  std::array<Eigen::VectorXd, s> f;
  for (auto& v : f) v = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd rhs(n), stage = Eigen::VectorXd::Zero(n), err(n);
  apply(y, f[0]);
  double h = h0 > 0 ? h0 : 1e-3;
  while (next < times.size()) {
    const double target = times[next];
    bool lands = false;
    const double step = step_towards(t, h, target, &lands);
    const double hg = step * tab.gamma;
    for (int i = 1; i < s; ++i) {
      rhs = y;
      for (int j = 0; j < i; ++j)
        if (tab.a[i][j] != 0.0) rhs.noalias() += (step * tab.a[i][j]) * f[j];
      const std::int64_t it = solve(hg, rhs, stage);
      if (linear_iterations) *linear_iterations += it;
      apply(stage, f[i]);
      ++stats.applications;
      // The accumulators (never read by A): Y = rhs + h gamma F.
      stage.tail(n - solved_size) = rhs.tail(n - solved_size) + hg * f[i].tail(n - solved_size);
    }
    const Eigen::VectorXd& y_new = stage;  // stiffly accurate: y_new = Y_5
    err.setZero();
    for (int j = 0; j < s; ++j) {
      const double e = tab.b[j] - tab.bhat[j];
      if (e != 0.0) err.noalias() += (step * e) * f[j];
    }
    double norm = 0.0;
    for (Eigen::Index i = 0; i < n; ++i)
      norm = std::max(norm, std::fabs(err[i]) /
                                (atol + rtol * std::max(std::fabs(y[i]), std::fabs(y_new[i]))));
    const double factor = std::clamp(0.9 * std::pow(std::max(norm, 1e-10), -0.25), 0.2, 5.0);
    if (!(norm <= 1.0)) {
      ++stats.rejected;
      h = step * std::min(factor, 0.9);
      continue;
    }
    ++stats.steps;
    t = lands ? target : t + step;
    y = y_new;
    std::swap(f[0], f[s - 1]);
    if (!lands || step >= h) h = step * factor;
    while (next < times.size() && times[next] <= t) observe(next++, y);
    if (progress) progress(t);
  }
  return stats;
}

}  // namespace qtraj::exact
