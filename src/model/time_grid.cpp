#include <cmath>

#include "qtraj/model/run_config.hpp"

namespace qtraj {

std::vector<double> TimeGrid::times() const {
  std::vector<double> t(points, 0.0);
  if (points < 2) return t;
  if (spacing == Spacing::linear) {
    for (int i = 0; i < points; ++i) t[i] = end * static_cast<double>(i) / (points - 1);
  } else {
    // t_0 = 0, then points-1 log-spaced values from start to end.
    const double a = std::log(start), b = std::log(end);
    const int n = points - 1;
    for (int i = 0; i < n; ++i) t[i + 1] = n == 1 ? end : std::exp(a + (b - a) * i / (n - 1));
    t[points - 1] = end;
  }
  return t;
}

}  // namespace qtraj
