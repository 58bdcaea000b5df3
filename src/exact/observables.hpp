#pragma once
// Private to src/exact: the observables that solve_exact and solve_steady report, from the
// Dicke-basis populations of each fixed-j component of the initial mixture (components.hpp).
//
// For a component with spins j_i in a domain of N_i spins, the basis state |j_i, k_i - j_i> has
//   J_i^z = k_i - j_i,   J_i^+ J_i^- = k_i (2 j_i - k_i + 1),
// and k_i + (N_i - 2 j_i)/2 physically excited spins (the index of P(k_i)). With populations p_s
// and component weight w, each row accumulates
//   <J_i^z> += w p_s (k_i - j_i),  <J_i^+ J_i^-> += w p_s k_i (2 j_i - k_i + 1),
//   P_i(k_i + (N_i - 2 j_i)/2) += w p_s.
#include <Eigen/Dense>
#include <cstddef>
#include <vector>

#include "qtraj/io/layout.hpp"
#include "qtraj/io/result.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj::exact {

/// Largest product Dicke dimension prod_i (N_i + 1) of the exact and steady solvers (DickeSpace's
/// own default limit).
inline constexpr double kMaxDickeDim = 5e7;

/// Throws InputError("system.domains", ...) naming `solver` (exact or steady) if
/// prod_i (N_i + 1) > kMaxDickeDim.
void check_dicke_dimension(const Model& model, layout::Source solver);

/// The sums above over the components, for `rows` output times.
class DiagonalObservables {
 public:
  DiagonalObservables(const Model& model, std::size_t rows);

  /// Adds weight * p (populations over space's index; zero entries skipped) of the component
  /// with spins two_j to row `row`.
  void add(std::size_t row, const DickeSpace& space, const std::vector<int>& two_j, double weight,
           const Eigen::VectorXd& p);

  /// Fills the contract tables of `result` (sized rows x M): <J_i^z>/N_i and <J_i^z> + N_i/2,
  /// then appends /jplus_jminus/mean and /populations/domain_<i> as `solver` (exact or steady)
  /// describes them. Throws Error if |<J_i^z>|/N_i > 1/2 + 1e-6 (the integration lost accuracy).
  void store(Result& result, layout::Source solver) const;

 private:
  const Model& model_;
  Table jz_, jpjm_;
  std::vector<Table> pops_;
};

}  // namespace qtraj::exact
