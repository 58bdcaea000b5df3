// solver.closure = "auto": the up-front part of the rule and fourth_order's runaway guard
// (include/qtraj/meanfield/auto_closure.hpp); the fallback itself is in solver.cpp.
#include "qtraj/meanfield/auto_closure.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qtraj {
namespace meanfield {

std::string auto_skips_fourth_order(const Model& model) {
  for (int i = 0; i < model.num_domains(); ++i)
    if (model.initial[i].kind == InitialState::Kind::coherent)
      return "domain " + std::to_string(i + 1) + " starts in a coherent state (fourth_order refuses it)";
  if (model.has_local())
    return "the model has local processes (fourth_order has no local terms, docs/meanfield.md "
           "section 8)";
  for (const Reservoir& r : model.reservoirs)
    if (r.nbar > 0) return "a reservoir has nbar > 0 (fourth_order is validated at zero temperature only)";
  if (model.num_domains() > kAutoMaxDomains)
    return std::to_string(model.num_domains()) + " domains (fourth_order: at most " +
           std::to_string(kAutoMaxDomains) + ", cost)";
  const long long n_max = *std::max_element(model.spins.begin(), model.spins.end());
  if (n_max > kAutoMaxSpins)
    return "largest N_i = " + std::to_string(n_max) + " > " + std::to_string(kAutoMaxSpins) +
           " (fourth_order: moderate N only)";
  return "";
}

ClosureDiverged::ClosureDiverged(const std::string& cause)
    : Error("meanfield: the fourth_order closure diverged (" + cause +
            "); it is meant for moderate N (docs/meanfield.md section 3.3): use "
            "solver.closure = \"z_right\""),
      cause_(cause) {}

double moment_norm_bound(const Monomial& m, const std::vector<long long>& spins) {
  double bound = 1.0;
  for (std::size_t d = 0; d < m.size(); ++d) {
    const double n = static_cast<double>(spins[d]);
    const double h = static_cast<double>(spins[d] / 2);  // floor(N/2)
    // floor((N+1)^2/4) = h (h + 1) for even N, (h + 1)^2 for odd N; divided by N^2 (scaling).
    const double pm = std::sqrt(spins[d] % 2 == 0 ? h * (h + 1) : (h + 1) * (h + 1)) / n;
    bound *= std::pow(pm, m[d].a + m[d].c) * std::pow(0.5, m[d].b);
  }
  return bound;
}

std::string moment_name(const Monomial& m) {
  std::string s = "<";
  for (const auto& [d, x] : factors(m)) {
    if (s.size() > 1) s += ' ';
    s += "J_" + std::to_string(d + 1) + "^" + x;
  }
  return s + ">";
}

RunawayGuard::RunawayGuard(const MomentEquations& eq, const std::vector<long long>& spins) {
  for (int v = 0; v < eq.size(); ++v) {
    const Monomial& m = eq.variables()[v];
    if (letters(m) > 2) continue;  // closure-made auxiliaries: not held to a state's bounds
    index_.push_back(v);
    vars_.push_back(m);
    bound_.push_back(moment_norm_bound(m, spins));
    limit_.push_back(kRunawayFactor * bound_.back());
  }
}

std::string RunawayGuard::check(const Eigen::VectorXd& y) const {
  for (std::size_t v = 0; v < limit_.size(); ++v) {
    const double a = std::abs(y[index_[v]]);
    if (!(a <= limit_[v])) {
      char ratio[32];
      std::snprintf(ratio, sizeof ratio, "%.3g", a / bound_[v]);
      return moment_name(vars_[v]) + " is " + ratio + " times its largest physical value";
    }
  }
  return "";
}

}  // namespace meanfield
}  // namespace qtraj
