// Adaptive ESDIRK4(3)6L[2]SA integration of the exact solver's linear cascade y' = A y.
//
// Stage i (i >= 1): Y_i = y + h sum_{j<i} a_ij F_j + h gamma F_i with F_i = A Y_i, i.e.
//   (I - h gamma A) Y_i = y + h sum_{j<i} a_ij F_j,
// solved by SectorSystem::solve_stage, which also returns F_i = A Y_i (so no extra operator
// application per stage). F_0 = A y is the last stage's F of the previous step (stiffly accurate:
// y_new = Y_5, first-same-as-last). Error estimate e = h sum_i (b_i - bhat_i) F_i.
// The method is L-stable, so the step is limited by accuracy only, never by the stiffness
// (decay rates l_a + l_b up to a few hundred over t ~ 1000).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "qtraj/error.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/exact/esdirk.hpp"

namespace qtraj {
namespace exact {

const EsdirkTableau& esdirk43() {
  static const EsdirkTableau tableau = [] {
    EsdirkTableau t{};
    const double a[6][6] = {
        {0, 0, 0, 0, 0, 0},
        {1. / 4, 1. / 4, 0, 0, 0, 0},
        {8611. / 62500, -1743. / 31250, 1. / 4, 0, 0, 0},
        {5012029. / 34652500, -654441. / 2922500, 174375. / 388108, 1. / 4, 0, 0},
        {15267082809. / 155376265600, -71443401. / 120774400, 730878875. / 902184768,
         2285395. / 8070912, 1. / 4, 0},
        {82889. / 524892, 0, 15625. / 83664, 69875. / 102672, -2260. / 8211, 1. / 4}};
    const double bhat[6] = {4586570599. / 29645900160, 0, 178811875. / 945068544,
                            814220225. / 1159782912, -3700637. / 11593932, 61727. / 225920};
    for (int i = 0; i < 6; ++i) {
      t.c[i] = 0;
      for (int j = 0; j < 6; ++j) {
        t.a[i][j] = a[i][j];
        t.c[i] += a[i][j];  // c_i = sum_j a_ij
      }
      t.b[i] = a[5][i];
      t.bhat[i] = bhat[i];
    }
    t.gamma = 0.25;
    t.order = 4;
    t.embedded_order = 3;
    return t;
  }();
  return tableau;
}

IntegrationStats integrate(const SectorSystem& system, Eigen::VectorXd y,
                           const std::vector<double>& times, double rtol, double atol,
                           const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
                           const std::function<void(double)>& progress) {
  IntegrationStats stats;
  if (times.empty()) return stats;
  const EsdirkTableau& tab = esdirk43();
  constexpr int s = EsdirkTableau::kStages;
  const double t_end = times.back();
  double t = times.front();
  observe(0, y);

  std::array<Eigen::VectorXd, s> f;
  system.apply(y, f[0]);
  const Eigen::Index size = system.size();
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(size), err = Eigen::VectorXd::Zero(size);
  Eigen::VectorXd y_new = Eigen::VectorXd::Zero(size), y_out = Eigen::VectorXd::Zero(size);

  // Initial step: resolve the fastest decay (~1/max_rate) at the requested accuracy.
  const double span = t_end - t;
  double h = std::min(span > 0 ? span : 1.0,
                      0.1 * std::pow(std::max(rtol, 1e-14), 0.25) / std::max(1.0, system.max_rate()));
  const double expo = 1.0 / (tab.embedded_order + 1);
  std::size_t next = 1;
  while (next < times.size() && times[next] <= t) observe(next++, y);
  // Vector arithmetic runs over y.head(len) only: at zero temperature the drained top sectors are
  // an exactly zero tail of every stage vector (solve_stage keeps zero top blocks zero).
  Eigen::Index len = size;
  while (next < times.size()) {
    const Eigen::Index new_len = system.active_size(y);
    if (new_len < len) {  // tails of the vectors assembled here over head(len) only
      rhs.segment(new_len, len - new_len).setZero();
      y_out.segment(new_len, len - new_len).setZero();
    }
    len = new_len;
    // Only the last step lands exactly on t_end; output times inside a step use dense output.
    const bool lands = t + h >= t_end - 1e-12 * std::max(1.0, std::abs(t_end));
    const double step = lands ? t_end - t : h;
    bool ok = true;
    for (int i = 1; i < s && ok; ++i) {
      rhs.head(len) = y.head(len);
      for (int j = 0; j < i; ++j)
        if (tab.a[i][j] != 0.0) rhs.head(len) += (step * tab.a[i][j]) * f[j].head(len);
      Eigen::VectorXd& z = i == s - 1 ? y_new : err;  // err doubles as stage scratch
      ok = system.solve_stage(step * tab.gamma, rhs, z, f[i], rtol, atol);
      ++stats.solves;
    }
    double e_norm = std::numeric_limits<double>::infinity();
    if (ok) {
      auto e = err.head(len);
      e = (step * (tab.b[0] - tab.bhat[0])) * f[0].head(len);
      for (int i = 1; i < s; ++i)
        if (tab.b[i] != tab.bhat[i]) e += (step * (tab.b[i] - tab.bhat[i])) * f[i].head(len);
      // Weighted max norm |e_i| / (atol + rtol max(|y_i|, |y_new_i|)).
      // (The smallest normal double keeps 0/0 out when atol = 0 and an entry is exactly zero.)
      e_norm = (e.array().abs() /
                (atol + std::numeric_limits<double>::min() +
                 rtol * y.head(len).array().abs().max(y_new.head(len).array().abs())))
                   .maxCoeff();
    }
    if (!std::isfinite(e_norm) && ok)
      throw Error("exact solver: the integration produced a non-finite value");
    if (ok && e_norm <= 1.0) {
      ++stats.steps;
      const double t_new = lands ? t_end : t + step;
      // Dense output on (t, t_new]: cubic Hermite through y, y_new with slopes f0 = A y and
      // f5 = A y_new, theta = (t_out - t) / step:
      //   y(theta) = (1 - 3th^2 + 2th^3) y + (3th^2 - 2th^3) y_new
      //            + step [(th - 2th^2 + th^3) f0 + (th^3 - th^2) f5].
      // Its error, O(step^4 y''''), is of the size of the embedded order-3 error estimate that
      // the step passed; an output time equal to t_new gets y_new itself.
      const double snap = 1e-12 * std::max(1.0, std::abs(t_new));
      while (next < times.size() && times[next] <= t_new + snap) {
        if (times[next] >= t_new - snap) {
          observe(next++, y_new);
          continue;
        }
        const double th = (times[next] - t) / step, th2 = th * th, th3 = th2 * th;
        y_out.head(len) = (1 - 3 * th2 + 2 * th3) * y.head(len) +
                          (3 * th2 - 2 * th3) * y_new.head(len) +
                          (step * (th - 2 * th2 + th3)) * f[0].head(len) +
                          (step * (th3 - th2)) * f[s - 1].head(len);
        observe(next++, y_out);
      }
      t = t_new;
      y.swap(y_new);
      f[0].swap(f[s - 1]);  // FSAL: F_0 of the next step = A y_new
      system.drop_drained_sectors(y, f[0], atol);
      if (progress) progress(span > 0 ? (t - times.front()) / span : 1.0);
      const double fac = std::min(5.0, e_norm > 0 ? 0.9 * std::pow(e_norm, -expo) : 5.0);
      h = step * fac;
    } else {
      ++stats.rejected;
      const double fac = ok ? std::max(0.2, 0.9 * std::pow(e_norm, -expo)) : 0.5;
      h = step * std::min(fac, 0.9);
      if (h < 1e-14 * std::max(1.0, std::abs(t)))
        throw Error("exact solver: step size underflow at t = " + std::to_string(t));
    }
  }
  return stats;
}

}  // namespace exact
}  // namespace qtraj
