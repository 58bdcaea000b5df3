#pragma once
// Cumulant equations of any order K for the collective spins, generated symbolically
// (`solver.closure = "fourth_order"` is K = 4; docs/meanfield.md section 3.3).
//
// Variables: every normal-ordered moment <m> with 1..K factors that the equations reach from
// z_i = <J_i^z> and C_ik = <J_i^+ J_k^->, one real number per pair {m, m^dagger}. They are real
// because every initial state supported here (excited, ground, dicke K, product K) has a real
// density matrix in the Dicke basis and the master equation has real coefficients, so
// <m> = <m^dagger> stays real (coherent initial states are refused).
// Equations: d<A>/dt = sum_c g_c/2 < L_c^+ [A, L_c] + [L_c^+, A] L_c >, exact, normal ordered
// (spin_algebra.hpp). Moments with U(1) charge != 0 vanish (exact for U(1)-symmetric states).
// Closure: a moment of K + 1 factors X_1..X_n is replaced by the value that makes its joint
// cumulant vanish,
//   <X_1 .. X_n>  ~  - sum_{partitions P != {1..n}} (-1)^(|P|-1) (|P|-1)! prod_{B in P} <X_B>,
// X_B the ordered sub-product (normal ordered, since X is); for K = 2 this is
// <ABC> ~ <AB><C> + <AC><B> + <BC><A> - 2<A><B><C>.
// Scaled variables: y_m = <m> / prod_{factors} N_domain, O(1) whatever N.
#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <array>
#include <functional>
#include <map>
#include <vector>

#include "qtraj/meanfield/spin_algebra.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {
namespace meanfield {

class MomentEquations {
 public:
  /// order in 2..7. Throws InputError (solver.closure) for coherent initial states.
  MomentEquations(const Model& model, int order);

  int order() const { return order_; }
  int num_domains() const { return static_cast<int>(n_.size()); }
  int size() const { return static_cast<int>(vars_.size()); }
  const std::vector<Monomial>& variables() const { return vars_; }
  /// Index of canonical(m) among the variables, -1 if it is not one.
  int index(const Monomial& m) const;
  int z_index(int i) const { return i; }  // z_i are the first M variables
  int c_index(int i, int k) const;         // <J_i^+ J_k^-> (= <J_k^+ J_i^->)
  /// prod over m's factors of N_domain: <m> = scale * y.
  double scale(int v) const { return scale_[v]; }

  /// Exact scaled moments of the model's initial state.
  Eigen::VectorXd initial_state() const;
  void rhs(const Eigen::VectorXd& y, Eigen::VectorXd& dy) const;
  void jacobian(const Eigen::VectorXd& y, Eigen::MatrixXd& jac) const;
  /// Fixed pattern (every term's positions plus the diagonal), compressed columns.
  void jacobian(const Eigen::VectorXd& y, Eigen::SparseMatrix<double>& jac) const;
  /// The superradiant growth rate of the correlations at the current z (as
  /// CumulantEquations::growth_rate), for the integrator's step cap.
  double growth_rate(const Eigen::VectorXd& y) const;

  /// The Heisenberg equation of <a> before closure: d<a>/dt = < result > (for tests).
  Operator heisenberg(const Monomial& a) const;
  /// The closed value of <m>: zero by charge, moment(m) for up to `order` factors, or the
  /// cumulant expansion above in terms of moment(sub-monomials) (for tests).
  double closed_value(const Monomial& m, const std::function<double(const Monomial&)>& moment) const;

 private:
  static constexpr int kMaxDegree = 8;
  struct Term {  // dy[out] += coef * prod_{p < degree} y[v[p]]
    int out = 0, degree = 0;
    double coef = 0.0;
    std::array<int, kMaxDegree> v{};
  };
  // <m> closed: sum over (coefficient, factors) of coefficient * prod <factor>, each factor a
  // monomial with 1..order letters and charge 0.
  using Expansion = std::vector<std::pair<double, std::vector<Monomial>>>;
  Expansion expand(const Monomial& m) const;
  int add_variable(const Monomial& m);

  std::vector<long long> n_;
  std::vector<InitialState> initial_;
  int order_;
  std::vector<Channel> channels_;
  std::vector<Monomial> vars_;
  std::map<Monomial, int> index_;
  std::vector<double> scale_;
  std::vector<Term> terms_;
  Eigen::SparseMatrix<double> pattern_;
  std::vector<std::array<int, kMaxDegree>> term_pos_;  // value-array slot per (term, position)
};

}  // namespace meanfield
}  // namespace qtraj
