// solver.closure = "auto": the up-front part of the rule (include/qtraj/meanfield/auto_closure.hpp);
// the divergence fallback is in solver.cpp.
#include "qtraj/meanfield/auto_closure.hpp"

#include <algorithm>

namespace qtraj {
namespace meanfield {

std::string auto_skips_fourth_order(const Model& model) {
  for (int i = 0; i < model.num_domains(); ++i)
    if (model.initial[i].kind == InitialState::Kind::coherent)
      return "domain " + std::to_string(i + 1) + " starts in a coherent state (fourth_order refuses it)";
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

}  // namespace meanfield
}  // namespace qtraj
