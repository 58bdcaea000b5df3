#pragma once
// Second-order cumulant ("mean-field") equations of docs/design.md section 6 and the stiff
// integrator that solves them. Derivation: docs/meanfield.md.
//
// Variables per run (M domains): z_i = <J_i^z> and the Hermitian matrix C_ik = <J_i^+ J_k^->
// (C_ii kept as a variable). With a = gamma_r (nbar_r + 1), b = gamma_r nbar_r and s_i = [i in S_r]
// the closed equations are, summed over reservoirs r,
//   dz_i/dt  = s_i [ -(a - b) Re sum_{j in S} C_ij - 2 b z_i ]
//   dC_ik/dt = a [ s_i sum_{l in S} C_lk (z_i - (d_ik + d_il)/2) + s_k sum_{j in S} C_ij (z_k -
//   (d_ki + d_kj)/2) ]
//            - b [ s_k sum_{l in S} C_il (z_k + (d_lk - d_ik)/2) + s_i sum_{j in S} C_jk (z_i +
//            (d_ji - d_ki)/2) ]
//            + 4 b s_i s_k ZZ_ik,
// ZZ_ii = <J_i^2> - C_ii + z_i (exact: <J_i^2> is conserved), ZZ_ik = z_i z_k (i != k, closure).
// The shifts above are those of the `symmetric` closure; `Closure` below gives the general rule
// <J_p^+ J_c^z J_q^-> ~ C_pq (z_c - alpha d_cq - beta d_cp) (docs/meanfield.md section 3).
// Local processes ([[local]], per domain rates g_e, g_p, g_phi, G = g_e + g_p + g_phi) add exact
// linear terms, no closure (docs/meanfield.md section 8):
//   dz_i += -g_e (z_i + N_i/2) + g_p (N_i/2 - z_i),   dC_ik += -(G_i + G_k)/2 C_ik  (i != k),
//   dC_ii += -G_i C_ii + g_phi,i (N_i/2 + z_i) + g_p,i N_i,   d<J_i^-> += -G_i/2 <J_i^->,
// and <J_i^2> (conserved without them) becomes a variable, with
//   d<J^2> = -G X + (g_p - g_e)(N - 1) z - 2 (g_e + g_p) Q,
//   X = C_ii - N/2 - z,  Q = <J^2> - C_ii + z - N/4.
#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <complex>
#include <functional>
#include <string>
#include <vector>

#include "qtraj/model/model.hpp"

namespace qtraj {
namespace meanfield {

/// How third moments <J_p^+ J_c^z J_q^-> are closed (run-file key `solver.closure`):
///   <J_p^+ J_c^z J_q^->  ~  C_pq (z_c - alpha d_cq - beta d_cp)
/// (d the Kronecker delta), applied to the equations of C_ik with i <= k; C_ki = conj(C_ik).
/// - symmetric (alpha = beta = 1/2): J^z symmetrised about J_p^+ J_q^- before factorising;
///   the only Hermitian-consistent choice that is exact at t = 0 for J^z eigenstates.
/// - z_right (alpha = 1, beta = 0): J^z moved to the right, <J_p^+ J_q^- J_c^z> ~ C_pq z_c.
///   The equation of C_ik (i < k) is closed this way, that of C_ki is its conjugate, so the
///   rule depends on the domain numbering (upstream domains first along a chain).
/// - z_left (alpha = 0, beta = 1): J^z moved to the left, <J_c^z J_p^+ J_q^-> ~ C_pq z_c
///   (z_right with the domain order reversed).
/// All three give the same C_ii equations at zero temperature and are exact at t = 0 for
/// J^z-eigenstate initial states; they differ only in the cross correlations C_ik, i != k.
/// - fourth_order: not this rule; every moment of up to four factors is a variable and fifth
///   cumulants vanish (MomentEquations, moment_equations.hpp; docs/meanfield.md section 3.3).
///   For moderate N only. CumulantEquations refuses it.
enum class Closure { symmetric, z_right, z_left, fourth_order };
/// The default of `solver.closure` (measured against the exact solver: docs/meanfield.md).
/// "auto" is not a Closure: solve_meanfield picks fourth_order or z_right (auto_closure.hpp).
inline constexpr const char* kDefaultClosure = "auto";
/// "symmetric" | "z_right" | "z_left" | "fourth_order"; anything else throws InputError naming solver.closure.
Closure parse_closure(const std::string& name);
std::string closure_name(Closure closure);

/// First and second moments of the collective operators (unscaled).
struct Moments {
  std::vector<double> z;                     // <J_i^z>, M entries
  std::vector<std::complex<double>> c;       // <J_i^+ J_k^->, M x M row-major, Hermitian
  std::vector<std::complex<double>> jminus;  // <J_i^->, M entries (zero under U(1) symmetry)
  std::vector<double> j2;                    // <J_i^2>, M entries (a variable with local processes)
  std::vector<double> quanta;                // local quanta emitted, absorbed: M x 2 (since t = 0)
  std::complex<double>& C(int i, int k) { return c[static_cast<std::size_t>(i) * z.size() + k]; }
  std::complex<double> C(int i, int k) const {
    return c[static_cast<std::size_t>(i) * z.size() + k];
  }
};

/// Exact first and second moments of one domain's initial state, and <J^2>.
struct DomainMoments {
  double z = 0.0;                     // <J^z>
  double jpjm = 0.0;                  // <J^+ J^->
  std::complex<double> jminus = 0.0;  // <J^-> (non-zero only for coherent states off the poles)
  double j2 = 0.0;                    // <J^2> = <J_x^2 + J_y^2 + J_z^2>
};
DomainMoments initial_domain_moments(const InitialState& state, long long n_spins);

/// The superradiant growth rate of the correlations at fixed z (unscaled <J_i^z>):
/// max(0, 2 max Re eig K), K = sum_r Z_r E_r (see CumulantEquations::growth_rate).
/// `local_decay` (optional, M entries): G_i = g_e + g_p + g_phi of the local processes, which
/// damp C_ik at (G_i + G_k)/2, i.e. K -> K - diag(G)/2.
double superradiant_growth_rate(const std::vector<Channel>& channels, const std::vector<double>& z,
                                const std::vector<double>& local_decay = {});

/// The closed equations as a real ODE system y' = f(y) in scaled variables:
///   y = [ z_i / N_i (i = 0..M-1),  C_ii / N_i^2 (i),  Re, Im of C_ik / (N_i N_k) (i < k),
///         and, only if some initial <J_i^-> != 0 (coherent states), Re, Im of <J_i^-> / N_i ].
/// <J_i^-> obeys, with the mixed moments closed at first order (<J^z J^-> ~ z<J^-> - <J^->/2,
/// <J^- J^z> ~ z<J^-> + <J^->/2 for one domain, z_i <J_j^-> across domains),
///   d<J_i^->/dt = sum_r s_i [ a (z_i sum_{j in S} <J_j^-> - <J_i^->/2)
///                             - b (z_i sum_{j in S} <J_j^-> + <J_i^->/2) ];
/// it does not feed back into z and C (docs/meanfield.md section 4).
/// Only if the model has local processes (Model::has_local()), further entries follow:
/// <J_i^2> / N_i^2 (M), then the local quanta q_e,i / N_i, q_p,i / N_i (2 per domain, M x 2):
/// dq_e,i/dt = g_e,i (z_i + N_i/2), dq_p,i/dt = g_p,i (N_i/2 - z_i) (docs/meanfield.md section 8).
/// Every component is O(1) at most, whatever N_i, so one atol fits all of them.
/// f is a quadratic polynomial in y; its terms are compiled once from the reservoir graph,
/// so f and the exact Jacobian cost O(number of terms).
class CumulantEquations {
 public:
  explicit CumulantEquations(const Model& model, Closure closure = Closure::z_right);
  Closure closure() const { return closure_; }

  int num_domains() const { return static_cast<int>(n_.size()); }
  int size() const { return size_; }

  /// Exact moments of the model's initial state (cross-domain C_ik = <J_i^+><J_k^->).
  Moments initial_moments() const;
  Eigen::VectorXd pack(const Moments& m) const;
  Moments unpack(const Eigen::VectorXd& y) const;

  void rhs(const Eigen::VectorXd& y, Eigen::VectorXd& dy) const;
  void jacobian(const Eigen::VectorXd& y, Eigen::MatrixXd& jac) const;
  /// The same Jacobian in a fixed sparsity pattern (all monomial positions plus the diagonal),
  /// compressed column storage; `jac` is reset to the pattern on first use.
  void jacobian(const Eigen::VectorXd& y, Eigen::SparseMatrix<double>& jac) const;
  /// Largest growth rate of the correlations at fixed z: with z fixed the C equations are
  /// dC/dt = K C + C K^T + (source), K = sum_r Z_r E_r, (E_r)_{jl} = [j, l in S_r],
  /// Z_r = diag(s_i (a (z_i - 1/2) - b (z_i + 1/2))) (the O(1) shifts averaged), whose
  /// eigenvalues are lambda_p + lambda_q over those of K: returns max(0, 2 max Re eig K).
  /// This is the superradiant instability; the integrator keeps h * rate <= 1 because an
  /// L-stable step damps a growing mode that is still below atol without noticing it.
  double growth_rate(const Eigen::VectorXd& y) const;
  /// d/dt of the unscaled moments at `m` (for tests: compare with the master equation).
  Moments derivative(const Moments& m) const;

  /// Index of z_i, of C_ii, and of Re C_ik (Im is the next one) for i < k.
  int z_index(int i) const { return i; }
  int diag_index(int i) const { return num_domains() + i; }
  int offdiag_index(int i, int k) const;
  /// Whether <J_i^-> is integrated (some initial state breaks U(1)); Re at jminus_index(i).
  bool tracks_jminus() const { return track_jminus_; }
  int jminus_index(int i) const { return num_domains() * (num_domains() + 1) + 2 * i; }
  /// Whether the model has local processes: then <J_i^2> and the local quanta are variables.
  bool tracks_local() const { return local_; }
  int j2_index(int i) const { return local_base_ + i; }
  /// q_e,i / N_i at quanta_index(i, 0), q_p,i / N_i at quanta_index(i, 1).
  int quanta_index(int i, int process) const {
    return local_base_ + num_domains() + 2 * i + process;
  }

 private:
  struct Quad {  // out += coef * y[a] * y[b]
    int out, a, b;
    double coef;
  };
  struct Lin {  // out += coef * y[a]
    int out, a;
    double coef;
  };
  std::vector<long long> n_;
  std::vector<InitialState> initial_;
  Closure closure_;
  std::vector<Channel> channels_;
  std::vector<double> local_decay_;  // G_i per domain; empty without local processes
  int size_ = 0;
  bool track_jminus_ = false;
  bool local_ = false;
  int local_base_ = 0;  // first index after the <J^-> entries (the local entries, if any)
  std::vector<Quad> quad_;
  std::vector<Lin> lin_;
  std::vector<double> constant_;                        // per output
  Eigen::SparseMatrix<double> pattern_;                 // Jacobian pattern incl. the diagonal
  std::vector<int> lin_pos_, quad_pos_a_, quad_pos_b_;  // value-array slots in pattern_
};

}  // namespace meanfield
}  // namespace qtraj
