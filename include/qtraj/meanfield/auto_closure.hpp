#pragma once
// solver.closure = "auto" (the default): fourth_order where it is trustworthy, z_right elsewhere.
// The rule and the measurements behind it: docs/meanfield.md section 3.4.
//  (i) z_right up front when fourth_order is refused, untested or known to fail or cost:
//      a coherent initial state (refused), local processes (refused: fourth_order has no
//      local terms), a reservoir with nbar > 0 (not validated against
//      the exact solver), more than kAutoMaxDomains domains (cost), or some N_i above
//      kAutoMaxSpins (a fixed truncation artefact that does not shrink with N, then loss of
//      the cumulants in double precision; the paper's Figs. 3/4 sizes);
//  (ii) otherwise fourth_order, and z_right again if it diverges (one line on stderr). A
//      divergence is caught when it starts, after the step where a moment of one or two
//      factors passes kRunawayFactor times the largest value any state gives it (RunawayGuard),
//      before the integrator grinds down to a step-size underflow.
#include <Eigen/Dense>
#include <string>
#include <vector>

#include "qtraj/error.hpp"
#include "qtraj/meanfield/moment_equations.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {
namespace meanfield {

inline constexpr long long kAutoMaxSpins = 1000;
inline constexpr int kAutoMaxDomains = 3;

/// Why `auto` goes straight to z_right for this model; empty if it tries fourth_order first.
std::string auto_skips_fourth_order(const Model& model);

/// fourth_order left the physical range. what() is the message of an explicit fourth_order run
/// (it names the closure and the way out); cause() is the short reason alone ("<J_1^z>/N_1 =
/// -0.53 at t = 0.78"), for the one-sentence line of `auto`.
class ClosureDiverged : public Error {
 public:
  explicit ClosureDiverged(const std::string& cause);
  const std::string& cause() const { return cause_; }

 private:
  std::string cause_;
};

/// A moment at this many times its largest physical value is a runaway, not a closure error:
/// over 214 converging fourth_order runs the guarded moments stay within 2.2 times (measured,
/// docs/meanfield.md 3.4).
inline constexpr double kRunawayFactor = 10.0;

/// The largest |<m>| over all states, in scaled units (<m> = scale y): |<m>| <= ||m|| <=
/// prod over m's letters of ||J_d^letter||, with ||J^z|| = N/2 and ||J^+|| = ||J^-|| =
/// max_k sqrt(k (N + 1 - k)) = sqrt(floor((N + 1)^2 / 4)) (k = j - m of the Dicke state).
double moment_norm_bound(const Monomial& m, const std::vector<long long>& spins);
/// "<J_1^+ J_1^z J_2^->" for messages.
std::string moment_name(const Monomial& m);

/// fourth_order's runaway guard, run after every accepted step of the integrator: the moments
/// of one and two factors (<J_i^z>, <J_i^+ J_k^->, <J_i^z J_k^z>) must satisfy |y_v| <=
/// kRunawayFactor * moment_norm_bound (NaN fails). The moments of three and four factors are
/// not held to it: they are the closure's auxiliaries, and converging runs take them to 12 times
/// their bound at N_i = 1 (the closure does not know identities such as (J^z)^2 = 1/4 there).
class RunawayGuard {
 public:
  RunawayGuard(const MomentEquations& eq, const std::vector<long long>& spins);
  /// Empty while every guarded moment is within the limit; otherwise the first one that is
  /// not, as "<m> is 12.3 times its largest physical value".
  std::string check(const Eigen::VectorXd& y) const;

 private:
  std::vector<Eigen::Index> index_;  // the guarded variables (one or two factors)
  std::vector<Monomial> vars_;
  std::vector<double> bound_, limit_;  // moment_norm_bound and kRunawayFactor times it
};

}  // namespace meanfield
}  // namespace qtraj
