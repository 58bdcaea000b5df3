#pragma once
// The adaptive L-stable ESDIRK4(3)6L[2]SA integrator of the exact solver: y' = A y for the
// cascade operator A of a SectorSystem (sector_system.hpp), each implicit stage solved by
// SectorSystem's top-down sweep (zero temperature) or GMRES (thermal).
#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <vector>

#include "qtraj/exact/sector_system.hpp"

namespace qtraj {
namespace exact {

/// Butcher tableau of Kennedy & Carpenter's ESDIRK4(3)6L[2]SA (the implicit part of ARK4(3)6L,
/// Appl. Numer. Math. 44 (2003) 139): 6 stages, explicit first stage, diagonal gamma = 1/4,
/// stiffly accurate (b = last row of a), L-stable, order 4 with an embedded order-3 bhat.
struct EsdirkTableau {
  static constexpr int kStages = 6;
  double a[kStages][kStages];
  double b[kStages];
  double bhat[kStages];
  double c[kStages];
  double gamma;
  int order;           // 4
  int embedded_order;  // 3
};
const EsdirkTableau& esdirk43();

/// Integration statistics of one component.
struct IntegrationStats {
  std::int64_t steps = 0;
  std::int64_t rejected = 0;
  std::int64_t solves = 0;  // implicit stage solves (ESDIRK) or resolvent sweeps (Laplace)
  double esdirk_from = -1.0;  // Laplace: time from which ESDIRK took over (budget), else < 0
};

/// Integrates y' = A y from times.front() to times.back() (ascending, times[0] is the start) and
/// calls observe(k, y(times[k])) for every k, in order (including 0). Steps are chosen by the
/// error control alone; outputs inside a step come from cubic Hermite dense output.
/// Adaptive step with the weighted max-norm error |e_i| / (atol + rtol max(|y_i|, |y_new_i|)) <= 1.
/// progress(t) is called after each accepted step if non-empty.
IntegrationStats integrate(const SectorSystem& system, Eigen::VectorXd y,
                           const std::vector<double>& times, double rtol, double atol,
                           const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
                           const std::function<void(double)>& progress = {});

}  // namespace exact
}  // namespace qtraj
