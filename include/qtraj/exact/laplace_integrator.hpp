#pragma once
// The exact solver's Laplace-inversion integrator (zero temperature): y(t + h) = exp(h A) y(t)
// for the cascade operator A of a SectorSystem, from one output time to the next, by the
// Bromwich integral on a parabolic contour (Weideman & Trefethen, Math. Comp. 76 (2007) 1341):
//   exp(hA) y = 1/(2 pi i) int_Gamma e^{z h} (z I - A)^{-1} y dz,
//   z(u) = mu (1 + i u)^2,  mu = a / h,  u_j = j k,
// truncated trapezoid rule with the conjugate symmetry of a real A and y (z(-u) = conj z(u)):
//   exp(hA) y ~ Re[ w_0 x_0 + 2 sum_{j=1}^{M} w_j x_j ],  x_j = (z_j I - A)^{-1} y,
//   w_j = e^{z_j h} z'(u_j) k / (2 pi i),  z'(u) = 2 i mu (1 + i u).
// At zero temperature A is block lower triangular in the excitation n with diagonal blocks
// -(l_a + l_b) in the K_n eigenbases, so each x_j is ONE exact top-down sweep
// (SectorSystem::resolvent), of the cost of one implicit ESDIRK stage on real and imaginary parts.
// A step costs M + 1 sweeps whatever h is: no step-size limit from the superradiant burst, where
// the ESDIRK integrator needs hundreds of steps of 5 stages. The spectrum of A is real and
// <= 0, so the rule converges geometrically in M; A is far from normal (the cascade), which
// slows the convergence against the scalar rule (measured on (12,6,2): 3e-10 at M = 10, 8e-12 at
// M = 12, errors against ESDIRK at rtol 1e-10); laplace_rule() chooses M from rtol with that
// margin (docs/exact.md). The error is controlled a priori, not estimated per step; as a guard,
// a step whose trace changes by more than rtol (the trace is conserved exactly) or that gives a
// population below -rtol is redone with the ESDIRK integrator.
#include <atomic>
#include <Eigen/Dense>
#include <cstddef>
#include <functional>
#include <vector>

#include "qtraj/exact/esdirk.hpp"
#include "qtraj/exact/sector_system.hpp"

namespace qtraj {
namespace exact {

/// Quadrature of one step: nodes j = 0..nodes - 1, z_j = (a / h) (1 + i j k)^2.
struct LaplaceRule {
  int nodes = 0;
  double a = 0.0;
  double k = 0.0;
};
/// The rule for a relative tolerance rtol (more nodes for smaller rtol).
LaplaceRule laplace_rule(double rtol);

/// Options of integrate_laplace.
struct LaplaceOptions {
  int threads = 1;  // resolvents solved at once (>= 1); the result does not depend on it
  /// Sweep budget, in sweeps over all sectors that are active at the start (sweep cost
  /// ~ sum_n d_n^3 over the active sectors, a complex resolvent counting as two real sweeps);
  /// once the Laplace steps have spent it, the remaining output times are integrated by ESDIRK.
  /// 0: no budget. (Each Laplace step costs ~2 (M + 1) sweeps whatever its length, so a grid
  /// with many output times inside the superradiant burst is cheaper with ESDIRK, whose burst
  /// takes ~300 steps x 5 stages; see kDefaultLaplaceBudget.)
  double sweep_budget = 0.0;
  /// A rule to use instead of laplace_rule(rtol) (tests: a deliberately coarse rule must trip the
  /// trace guard).
  LaplaceRule rule{};
  /// A stop request (may be null): when it becomes true, no further resolvent is started; the
  /// step in progress is abandoned and integrate_laplace calls progress (which throws the
  /// caller's Interrupted) or throws Error.
  const std::atomic<bool>* stop = nullptr;
};
/// The budget `solver.integrator = "auto"` gives the Laplace steps: about what ESDIRK spends in
/// the superradiant burst (~300 steps of 5 stage sweeps, bench/bench_exact_results.md).
constexpr double kDefaultLaplaceBudget = 1500.0;

/// Integrates y' = A y (zero temperature: no raising channel) from times.front() to
/// times.back(), one Laplace step per output interval, and calls observe(k, y(times[k])) for
/// every k in order (including 0). stats.steps = Laplace steps (+ ESDIRK steps after a switch),
/// stats.rejected = Laplace steps redone with ESDIRK (trace guard), stats.solves = sweeps
/// (resolvents + ESDIRK stages), stats.esdirk_from = the time from which ESDIRK took over when
/// the budget ran out (else negative).
IntegrationStats integrate_laplace(
    const SectorSystem& system, Eigen::VectorXd y, const std::vector<double>& times, double rtol,
    double atol, const LaplaceOptions& options,
    const std::function<void(std::size_t, const Eigen::VectorXd&)>& observe,
    const std::function<void(double)>& progress = {});

}  // namespace exact
}  // namespace qtraj
