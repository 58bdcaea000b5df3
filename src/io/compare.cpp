#include "qtraj/io/compare.hpp"

#include <cmath>

#include "qtraj/error.hpp"

namespace qtraj {

Comparison compare_results(const Result& a, const Result& b, double sigma_threshold,
                           double abs_tolerance) {
  if (a.time.size() != b.time.size())
    throw InputError("time", std::to_string(a.time.size()) + " vs " + std::to_string(b.time.size()) + " points",
                     "the two results have different output grids");
  for (std::size_t t = 0; t < a.time.size(); ++t) {
    // Times agree to 1e-9 (relative above 1); an infinite time (steady state) only matches
    // itself; NaN matches nothing.
    const double x = a.time[t], y = b.time[t];
    const bool same = std::isinf(x) || std::isinf(y)
                          ? x == y
                          : std::fabs(x - y) <= 1e-9 * std::max(1.0, std::fabs(x));
    if (!same)
      throw InputError("time[" + std::to_string(t) + "]",
                       std::to_string(a.time[t]) + " vs " + std::to_string(b.time[t]),
                       "the two results have different output grids");
  }
  const std::size_t m = a.jz_over_n_mean.cols;
  if (b.jz_over_n_mean.cols != m)
    throw InputError("domains", std::to_string(m) + " vs " + std::to_string(b.jz_over_n_mean.cols),
                     "the two results have different numbers of domains");
  Comparison c;
  c.domains.resize(m);
  for (double v : a.jz_over_n_stderr.data) c.stochastic |= v > 0;
  for (double v : b.jz_over_n_stderr.data) c.stochastic |= v > 0;
  for (std::size_t i = 0; i < m; ++i) {
    DomainDeviation& d = c.domains[i];
    for (std::size_t t = 0; t < a.time.size(); ++t) {
      const double diff = std::fabs(a.jz_over_n_mean(t, i) - b.jz_over_n_mean(t, i));
      const double se = std::hypot(a.jz_over_n_stderr(t, i), b.jz_over_n_stderr(t, i));
      if (!(diff <= d.max_abs_difference)) {  // also catches NaN
        d.max_abs_difference = diff;
        d.time_of_max_abs = a.time[t];
      }
      if (se > 0) {
        const double z = diff / se;
        if (!(z <= d.max_sigmas)) {
          d.max_sigmas = z;
          d.time_of_max = a.time[t];
        }
        if (!(z <= sigma_threshold)) d.within = false;
      } else if (!(diff <= abs_tolerance)) {
        d.within = false;
      }
    }
    c.passed &= d.within;
  }
  return c;
}

}  // namespace qtraj
