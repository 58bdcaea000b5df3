#pragma once
// solver.closure = "auto" (the default): fourth_order where it is trustworthy, z_right elsewhere.
// The rule and the measurements behind it: docs/meanfield.md section 3.4.
//  (i) z_right up front when fourth_order is refused, untested or known to fail or cost:
//      a coherent initial state (refused), a reservoir with nbar > 0 (not validated against
//      the exact solver), more than kAutoMaxDomains domains (cost), or some N_i above
//      kAutoMaxSpins (a fixed truncation artefact that does not shrink with N, then loss of
//      the cumulants in double precision; the paper's Figs. 3/4 sizes);
//  (ii) otherwise fourth_order, and z_right again if it diverges (one line on stderr).
#include <string>

#include "qtraj/model/model.hpp"

namespace qtraj {
namespace meanfield {

inline constexpr long long kAutoMaxSpins = 1000;
inline constexpr int kAutoMaxDomains = 3;

/// Why `auto` goes straight to z_right for this model; empty if it tries fourth_order first.
std::string auto_skips_fourth_order(const Model& model);

}  // namespace meanfield
}  // namespace qtraj
