#pragma once
// Krylov (Lanczos) no-jump propagator (docs/design.md section 3.2, docs/krylov.md): memory O(m d_n)
// per trajectory and nothing dense per sector, for sectors far beyond a dense eigensystem.
//
// In sector n, K = (1/2) sum_c C_c^+ C_c is real symmetric PSD and applied matrix-free through the
// ladder tables (C_c psi, then C_c^+ of it). From the current (unnormalised, possibly complex)
// state psi, Hermitian Lanczos with full reorthogonalisation gives an orthonormal Q = [q_1..q_m]
// (q_1 = psi / beta, beta = ||psi||) and a REAL tridiagonal T = Q^H K Q (alpha_j = q_j^H K q_j is
// real for Hermitian K; the beta_j are norms). With T = S diag(theta) S^T and c = beta S^T e_1
// (real):
//   psi(s) ~ Q S diag(exp(-theta s)) c,   N(s) = ||psi(s)||^2 ~ sum_a c_a^2 exp(-2 theta_a s),
// so the waiting time N(s) = u is the spectral propagator's 1-D Newton root on a log-sum-exp.
//
// Error control (Saad 1992; Expokit's err1): with the residual r_m = beta_m q_{m+1} of the Lanczos
// relation K Q = Q T + r_m e_m^T, the error e(s) = psi(s) - Q exp(-sT) (beta e_1) obeys
// e' = -K e + beta beta_m (e_m^T exp(-sT) e_1) q_{m+1}, and exp(-K s) is a contraction (K >= 0), so
//   ||e(s)|| <= beta beta_m int_0^s |e_m^T exp(-xT) e_1| dx ~ est(s) = beta beta_m |e_m^T s phi_1(-sT) e_1|
//            = beta beta_m |sum_a S_{m,a} S_{1,a} (1 - exp(-theta_a s)) / theta_a|.
// A step s is accepted when est(s) <= rtol sqrt(N(s)) + atol (per restart: the global error is at
// most the sum of the step errors, again because exp(-K s) contracts). The basis grows until the
// accepted horizon contains the jump (or the end of the run), up to max_basis vectors; if it does
// not, the segment is time-stepped: psi(t + tau) becomes the start of a new basis (restart).
// No stiffness limit: the step is set by the accuracy of the projection, never by stability
// (exp(-sT) is computed exactly). A lucky breakdown (beta_m at rounding level: Q spans an invariant
// subspace, e.g. a dark state) is exact for every s.
//
// Team contract (team.hpp): long vectors are split over the ranks; the small Lanczos matrix is
// diagonalised by rank 0 into the shared workspace, and every rank then computes the same scalars
// (N(s), est(s), steps, roots) from it.
#include <math.h>

#include "qtraj/trajectory/local_jump.hpp"
#include "qtraj/trajectory/sector_ops.hpp"
#include "qtraj/trajectory/tridiagonal_eigen.hpp"

namespace qtraj::trajectory {

/// Default (and largest useful) Krylov basis size; the workspace is carved for it.
constexpr int kKrylovMaxBasis = 40;

class KrylovPropagator {
 public:
  /// rtol, atol: the step-error tolerance above. max_basis: the largest m, clamped to
  /// 2..kKrylovMaxBasis (the scratch is laid out for kKrylovMaxBasis).
  QTRAJ_HD KrylovPropagator(double rtol, double atol, int max_basis = kKrylovMaxBasis)
      : rtol_(rtol), atol_(atol),
        max_basis_(max_basis < 2 ? 2 : (max_basis > kKrylovMaxBasis ? kKrylovMaxBasis : max_basis)) {}

  /// Scratch (ws.rk) for bases up to kKrylovMaxBasis: 2 (m + 1) d Lanczos vectors (re, im) and
  /// (m + 1)^2 + 8 (m + 1) small arrays (workspace_doubles<KrylovPropagator>).
  QTRAJ_HD static long long scratch_doubles(int max_dim) {
    const long long m1 = kKrylovMaxBasis + 1;
    return 2 * m1 * max_dim + m1 * m1 + 8 * m1;
  }

  /// Takes the state ws.psi of sector n (any norm). The basis is built in advance(), which knows
  /// the horizon it must reach.
  template <class Team>
  QTRAJ_HD void load(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws, int n,
                     bool cplx) {
    n_ = n;
    cplx_ = cplx;
    d_ = sys.sector_dim(n);
    bind(ws);
    team.sync();
  }

  /// Same contract as SpectralPropagator::advance. Returns a negative value also when the
  /// restart limit is hit before t_end (then next_out < num_times: run_trajectory reports the
  /// trajectory incomplete).
  template <class Team>
  QTRAJ_HD double advance(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                          double t, double u, TrajectoryOutput& out, int& next_out) {
    const double t_end = out.times[out.num_times - 1];
    const int row_len = out.row_length(sys.num_domains);
    for (long long restart = 0; restart < 10000000LL; ++restart) {
      const double span = t_end - t > 0.0 ? t_end - t : 0.0;
      const double beta0 = ::sqrt(norm2(team, d_, ws.psi_re, ws.psi_im, cplx_));
      if (!(beta0 > 0.0)) {  // the zero vector (underflow): constant, never jumps
        while (next_out < out.num_times) {
          record_observables(team, sys, n_, ws.psi_re, ws.psi_im, cplx_,
                             out.obs + static_cast<long long>(next_out) * row_len);
          ++next_out;
        }
        return -1.0;
      }
      // Lanczos from q_1 = psi / beta0; stop once the accepted horizon holds the jump or t_end.
      scale_copy(team, d_, 1.0 / beta0, ws.psi_re, ws.psi_im, cplx_, q_re(0), q_im(0));
      double tau = 0.0, s_jump = -1.0;
      double t_norm = 0.0;  // running estimate of ||T|| (breakdown threshold)
      for (int j = 0; j < max_basis_ && j < d_; ++j) {
        lanczos_step(team, sys, ws, j);
        const double a = alpha_[j] < 0 ? -alpha_[j] : alpha_[j];
        const double row = a + beta_[j] + (j > 0 ? beta_[j - 1] : 0.0);
        if (row > t_norm) t_norm = row;
        m_ = j + 1;
        exact_ = !(beta_[j] > 256.0 * 2.220446049250313e-16 * t_norm) || m_ == d_;
        const bool check = exact_ || m_ == max_basis_ || m_ == 2 || m_ % 4 == 0;
        if (!check) continue;
        diagonalise(team, beta0);
        tau = exact_ ? span : accepted_step(span);
        s_jump = u > 0.0 ? find_crossing(u, tau) : -1.0;
        if (exact_ || s_jump >= 0.0 || tau >= span) break;
      }
      const bool last = s_jump < 0.0 && tau >= span;
      const double t_stop = s_jump >= 0.0 ? t + s_jump : (last ? t_end : t + tau);
      while (next_out < out.num_times && (last || out.times[next_out] <= t_stop)) {
        double s = out.times[next_out] - t;
        s = s < 0.0 ? 0.0 : (s > tau ? tau : s);
        evolved_state(team, s, ws.tmp_re, ws.tmp_im);
        record_observables(team, sys, n_, ws.tmp_re, ws.tmp_im, cplx_,
                           out.obs + static_cast<long long>(next_out) * row_len);
        ++next_out;
      }
      if (s_jump >= 0.0) {
        evolved_state(team, s_jump, ws.psi_re, ws.psi_im);
        return t + s_jump;
      }
      if (last) return -1.0;
      evolved_state(team, tau, ws.psi_re, ws.psi_im);  // restart from psi(t + tau)
      t += tau;
      ++restarts_;
    }
    return -1.0;
  }

  /// Basis size of the last Lanczos build, and the number of restarts (time-stepped segments)
  /// since construction (tests, benchmarks).
  QTRAJ_HD int basis_size() const { return m_; }
  QTRAJ_HD long long restarts() const { return restarts_; }

 private:
  QTRAJ_HD void bind(const TrajectoryWorkspace& ws) {
    const long long m1 = kKrylovMaxBasis + 1;
    double* p = ws.rk;
    alpha_ = p;
    beta_ = p + m1;
    theta_ = p + 2 * m1;
    coef_ = p + 3 * m1;   // c = beta0 S^T e_1
    first_ = p + 4 * m1;  // S_{1,a} S_{m,a} (error estimate)
    y_ = p + 5 * m1;      // S diag(exp(-theta s)) c
    work_ = p + 6 * m1;   // 2 (m + 1): tridiagonal scratch
    s_ = p + 8 * m1;      // (m + 1)^2: eigenvectors of T
    q_ = s_ + m1 * m1;    // 2 (m + 1) d: Lanczos vectors, re then im, stride d_
  }
  QTRAJ_HD double* q_re(int j) const { return q_ + static_cast<long long>(j) * d_; }
  QTRAJ_HD double* q_im(int j) const {
    return q_ + static_cast<long long>(kKrylovMaxBasis + 1 + j) * d_;
  }

  /// out += (1/2) C_c^+ x for x in sector channel_target(c, n_), gather form:
  ///   lowering c: C_c^+ = amp sum_i J_i^+, (J_i^+ x)(s) = lower_amp(s, i) x(lower(s, i));
  ///   raising c:  C_c^+ = amp sum_i J_i^-, (J_i^- x)(s) = raise_amp(s, i) x(raise(s, i)).
  template <class Team>
  QTRAJ_HD void add_half_adjoint(Team& team, const SystemView& sys, int c, const double* x_re,
                                 const double* x_im, double* out_re, double* out_im) const {
    const int m = sys.num_domains;
    const std::int64_t begin = sys.sector_begin[n_];
    const std::int64_t src_begin = sys.sector_begin[channel_target(sys, c, n_)];
    const bool raising = sys.channel_raising[c] != 0;
    const int* from = raising ? sys.raise : sys.lower;
    const double* amp = raising ? sys.raise_amp : sys.lower_amp;  // nullptr: lean bundle
    const double scale = 0.5 * sys.channel_amp[c];
    const int dom_begin = sys.channel_domain_begin[c], dom_end = sys.channel_domain_begin[c + 1];
    for (int a = team.rank(); a < d_; a += team.size()) {
      const std::int64_t s = begin + a;
      double re = 0.0, im = 0.0;
      for (int q = dom_begin; q < dom_end; ++q) {
        const int i = sys.channel_domains[q];
        const int src = from[s * m + i];
        if (src < 0) continue;
        const double w =
            scale * (amp ? amp[s * m + i] : (raising ? sys.raise_amp_of(s, i) : sys.lower_amp_of(s, i)));
        re += w * x_re[src - src_begin];
        if (cplx_) im += w * x_im[src - src_begin];
      }
      out_re[a] += re;
      if (cplx_) out_im[a] += im;
    }
    team.sync();
  }

  /// out = K in = (1/2) sum_c C_c^+ C_c in (+ the local diagonal) (sector n_), through ws.tmp.
  template <class Team>
  QTRAJ_HD void apply_k(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                        const double* in_re, const double* in_im, double* out_re,
                        double* out_im) const {
    // Local processes (local_jump.hpp): their diagonal of K; without them out starts at 0.
    const std::int64_t begin = sys.sector_begin[n_];
    for (int a = team.rank(); a < d_; a += team.size()) {
      const double diag = sys.local_rates ? local_no_jump_diagonal(sys, begin + a) : 0.0;
      out_re[a] = sys.local_rates ? diag * in_re[a] : 0.0;
      if (cplx_) out_im[a] = sys.local_rates ? diag * in_im[a] : 0.0;
    }
    for (int c = 0; c < sys.num_channels; ++c) {
      const int target = channel_target(sys, c, n_);
      if (target < 0 || target > sys.max_excitation) continue;
      apply_channel(team, sys, c, n_, in_re, in_im, cplx_, ws.tmp_re, ws.tmp_im);  // syncs
      add_half_adjoint(team, sys, c, ws.tmp_re, ws.tmp_im, out_re, out_im);
    }
    team.sync();
  }

  /// <a, b> = sum conj(a) b over the sector (re, im; im only for complex states).
  template <class Team>
  QTRAJ_HD void dot(Team& team, const double* a_re, const double* a_im, const double* b_re,
                    const double* b_im, double& re, double& im) const {
    double lr = 0.0, li = 0.0;
    for (int k = team.rank(); k < d_; k += team.size()) {
      lr += a_re[k] * b_re[k];
      if (cplx_) {
        lr += a_im[k] * b_im[k];
        li += a_re[k] * b_im[k] - a_im[k] * b_re[k];
      }
    }
    re = team.reduce_sum(lr);
    im = cplx_ ? team.reduce_sum(li) : 0.0;
  }

  /// Lanczos step j (q_0..q_j orthonormal): w = K q_j - alpha_j q_j - beta_{j-1} q_{j-1}, then one
  /// full (modified Gram-Schmidt) reorthogonalisation against q_0..q_j; beta_j = ||w||,
  /// q_{j+1} = w / beta_j (left unnormalised at a breakdown, where it is not used).
  template <class Team>
  QTRAJ_HD void lanczos_step(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                             int j) {
    double* w_re = q_re(j + 1);
    double* w_im = q_im(j + 1);
    apply_k(team, sys, ws, q_re(j), q_im(j), w_re, w_im);
    double a, a_im;
    dot(team, q_re(j), q_im(j), w_re, w_im, a, a_im);
    const double b = j > 0 ? beta_[j - 1] : 0.0;
    for (int k = team.rank(); k < d_; k += team.size()) {
      w_re[k] -= a * q_re(j)[k] + (j > 0 ? b * q_re(j - 1)[k] : 0.0);
      if (cplx_) w_im[k] -= a * q_im(j)[k] + (j > 0 ? b * q_im(j - 1)[k] : 0.0);
    }
    team.sync();
    for (int i = 0; i <= j; ++i) {
      double hr, hi;
      dot(team, q_re(i), q_im(i), w_re, w_im, hr, hi);
      const double* qr = q_re(i);
      const double* qi = q_im(i);
      for (int k = team.rank(); k < d_; k += team.size()) {
        if (cplx_) {  // w -= q_i h, h complex
          w_re[k] -= hr * qr[k] - hi * qi[k];
          w_im[k] -= hr * qi[k] + hi * qr[k];
        } else {
          w_re[k] -= hr * qr[k];
        }
      }
      team.sync();
    }
    const double nb = ::sqrt(norm2(team, d_, w_re, w_im, cplx_));
    if (team.rank() == 0) {
      alpha_[j] = a;
      beta_[j] = nb;
    }
    team.sync();
    if (nb > 0.0) scale_copy(team, d_, 1.0 / nb, w_re, w_im, cplx_, w_re, w_im);
  }

  /// T_m = S diag(theta) S^T (rank 0), noise-level Ritz values set to exactly 0 (dark parts stay
  /// constant, as in the spectral propagator), c = beta0 S^T e_1, first = S_{1,a} S_{m,a}.
  template <class Team>
  QTRAJ_HD void diagonalise(Team& team, double beta0) {
    const int m = m_;
    if (team.rank() == 0) {
      double* e = work_;
      for (int i = 0; i < m; ++i) {
        theta_[i] = alpha_[i];
        e[i] = i + 1 < m ? beta_[i] : 0.0;
      }
      tridiagonal_eigen(m, theta_, e, s_);
      double top = 0.0;
      for (int a = 0; a < m; ++a) top = theta_[a] > top ? theta_[a] : top;
      const double noise = 64.0 * 2.220446049250313e-16 * m * top;
      for (int a = 0; a < m; ++a) {
        if (theta_[a] <= noise) theta_[a] = 0.0;
        coef_[a] = beta0 * s_[a];  // row 0 of S
        first_[a] = s_[a] * s_[(m - 1) * m + a];
      }
    }
    team.sync();
  }

  /// exp(-x) for x >= 0, exactly 0 beyond x = 745.
  QTRAJ_HD static double decay(double x) { return x > 745.0 ? 0.0 : ::exp(-x); }

  /// N(s) = sum_a c_a^2 exp(-2 theta_a s) and N'(s).
  QTRAJ_HD void norm_and_slope(double s, double& f, double& df) const {
    f = 0.0;
    df = 0.0;
    for (int a = 0; a < m_; ++a) {
      const double w = coef_[a] * coef_[a];
      const double e = s == 0.0 ? w : w * decay(2.0 * theta_[a] * s);
      f += e;
      df -= 2.0 * theta_[a] * e;
    }
  }

  /// est(s) <= rtol sqrt(N(s)) + atol (see the header comment); always true after a breakdown.
  QTRAJ_HD bool step_ok(double s) const {
    if (exact_) return true;
    double g = 0.0;
    for (int a = 0; a < m_; ++a) {
      const double x = theta_[a] * s;
      g += first_[a] * (x < 1e-8 ? s * (1.0 - 0.5 * x) : -::expm1(-x) / theta_[a]);
    }
    const double est = coef_norm_ * beta_[m_ - 1] * (g < 0 ? -g : g);
    double f, df;
    norm_and_slope(s, f, df);
    return est <= rtol_ * ::sqrt(f) + atol_;
  }

  /// The longest step tau <= span that step_ok accepts: span itself, or shrink geometrically to an
  /// accepted tau, then 8 bisections (in log tau) between it and the rejected one above it.
  QTRAJ_HD double accepted_step(double span) {
    coef_norm_ = 0.0;
    for (int a = 0; a < m_; ++a) coef_norm_ += coef_[a] * coef_[a];
    coef_norm_ = ::sqrt(coef_norm_);  // = beta0
    if (span <= 0.0 || step_ok(span)) return span;
    double bad = span, good = 0.0;
    for (int k = 0; k < 200; ++k) {
      const double trial = 0.25 * bad;
      if (step_ok(trial)) {
        good = trial;
        break;
      }
      bad = trial;
    }
    if (good == 0.0) return bad;  // never seen: est(s) -> 0 as s -> 0
    for (int k = 0; k < 8; ++k) {
      const double mid = ::sqrt(good * bad);
      if (step_ok(mid)) good = mid;
      else bad = mid;
    }
    return good;
  }

  /// The root s of N(s) = u in [0, span], else -1 (N(0) <= u: 0): Newton on ln N - ln u, convex
  /// and decreasing, monotone from s = 0 (SpectralPropagator::find_crossing, same stopping rule).
  QTRAJ_HD double find_crossing(double u, double span) const {
    double x = 0.0, f, df;
    norm_and_slope(0.0, f, df);
    if (f <= u) return 0.0;
    const double log_u = ::log(u);
    for (int iter = 0; iter < 100; ++iter) {
      if (!(df < 0.0) || !(f > 0.0)) return -1.0;
      const double step = -(::log(f) - log_u) * f / df;
      const double next = x + step;
      if (next > span) {
        if (step > 1e-14 * next) return -1.0;
        return span;
      }
      x = next > 0.0 ? next : 0.0;
      norm_and_slope(x, f, df);
      if ((step < 0 ? -step : step) <= 1e-14 * x) break;
    }
    return x;
  }

  /// dst = Q S diag(exp(-theta s)) c: psi at s in the current basis.
  template <class Team>
  QTRAJ_HD void evolved_state(Team& team, double s, double* dst_re, double* dst_im) {
    const int m = m_;
    if (team.rank() == 0) {
      for (int i = 0; i < m; ++i) {
        double v = 0.0;
        for (int a = 0; a < m; ++a)
          v += s_[i * m + a] * coef_[a] * (theta_[a] == 0.0 ? 1.0 : decay(theta_[a] * s));
        y_[i] = v;
      }
    }
    team.sync();
    for (int k = team.rank(); k < d_; k += team.size()) {
      dst_re[k] = 0.0;
      if (cplx_) dst_im[k] = 0.0;
    }
    for (int i = 0; i < m; ++i) {
      const double y = y_[i];
      const double* qr = q_re(i);
      const double* qi = q_im(i);
      for (int k = team.rank(); k < d_; k += team.size()) {
        dst_re[k] += y * qr[k];
        if (cplx_) dst_im[k] += y * qi[k];
      }
    }
    team.sync();
  }

  double rtol_, atol_;
  int max_basis_;
  int n_ = 0, d_ = 0, m_ = 0;
  bool cplx_ = false, exact_ = false;
  double coef_norm_ = 0.0;
  long long restarts_ = 0;
  double *alpha_ = nullptr, *beta_ = nullptr, *theta_ = nullptr, *coef_ = nullptr;
  double *first_ = nullptr, *y_ = nullptr, *work_ = nullptr, *s_ = nullptr, *q_ = nullptr;
};

}  // namespace qtraj::trajectory
