#pragma once
// A brute-force reference for the local exact solver's tests: the Lindblad equation in the full
// 2^N space of a few spins (N <= 5), with every collective channel and every spin's own emission,
// pumping and dephasing written out as matrices, propagated by exp(L dt) (Taylor series with
// scaling and squaring, exact to round-off). Shares nothing with src/exact but the model.
//
// Spin q (domains in order, contiguous) is bit q of the basis index; bit 1 = excited (up).
// Everything is real (the collapse operators are real; coherent states are taken at phi = 0).
// The Liouvillian acts on vec(rho) (column major), augmented by one row per accumulated quantity:
//   per reservoir: d/dt Q_r = sum_{c of r} +- tr(C_c rho C_c^T);
//   per domain: g_e <J_i^z + N_i/2>, g_p <N_i/2 - J_i^z>.
#include <Eigen/Dense>
#include <cmath>
#include <vector>

#include "qtraj/model/model.hpp"

namespace qtraj::test_local {

struct FullSpaceRow {
  std::vector<double> jz, jpjm;                  // per domain
  std::vector<std::vector<double>> pk, pj;       // per domain: P(k_i), P(j_i) (column as the layout)
  std::vector<double> emitted;                   // per reservoir
  std::vector<double> local_emitted, local_absorbed;  // per domain
};

class FullSpace {
 public:
  explicit FullSpace(const Model& model) : model_(model) {
    const int m = model.num_domains();
    for (int i = 0; i < m; ++i) {
      first_.push_back(n_);
      n_ += static_cast<int>(model.spins[i]);
    }
    dim_ = 1 << n_;
    // Per domain J^- and J^z.
    for (int i = 0; i < m; ++i) {
      Eigen::MatrixXd jm = Eigen::MatrixXd::Zero(dim_, dim_), jz = jm;
      for (int q = first_[i]; q < first_[i] + model.spins[i]; ++q) {
        jm += lower(q);
        jz += 0.5 * sigma_z(q);
      }
      jminus_.push_back(jm);
      jz_.push_back(jz);
    }
    const auto channels = collapse_channels(model);
    const int n_res = static_cast<int>(model.reservoirs.empty() ? std::max(0, m - 1)
                                                                 : model.reservoirs.size());
    std::vector<Eigen::MatrixXd> ops;
    std::vector<std::pair<int, double>> acc;  // accumulator row of each op, sign
    for (const auto& c : channels) {
      Eigen::MatrixXd op = Eigen::MatrixXd::Zero(dim_, dim_);
      for (int i : c.domains) op += c.raising ? Eigen::MatrixXd(jminus_[i].transpose()) : jminus_[i];
      ops.push_back(std::sqrt(c.rate) * op);
      acc.push_back({c.reservoir, c.raising ? -1.0 : 1.0});
    }
    const auto rates = model.local_rates();
    for (int i = 0; i < m; ++i)
      for (int q = first_[i]; q < first_[i] + model.spins[i]; ++q) {
        if (rates[i].emission > 0) {
          ops.push_back(std::sqrt(rates[i].emission) * lower(q));
          acc.push_back({n_res + 2 * i, 1.0});
        }
        if (rates[i].pumping > 0) {
          ops.push_back(std::sqrt(rates[i].pumping) * Eigen::MatrixXd(lower(q).transpose()));
          acc.push_back({n_res + 2 * i + 1, 1.0});
        }
        if (rates[i].dephasing > 0) {
          ops.push_back(std::sqrt(rates[i].dephasing / 4) * sigma_z(q));
          acc.push_back({-1, 0.0});
        }
      }
    n_res_ = n_res;
    const int d2 = dim_ * dim_, n_acc = n_res + 2 * m;
    liouvillian_ = Eigen::MatrixXd::Zero(d2 + n_acc, d2 + n_acc);
    Eigen::MatrixXd k = Eigen::MatrixXd::Zero(dim_, dim_);
    for (std::size_t o = 0; o < ops.size(); ++o) {
      const Eigen::MatrixXd& c = ops[o];
      k += 0.5 * c.transpose() * c;
      // vec(C X C^T) = (C (x) C) vec X.
      for (int a = 0; a < dim_; ++a)
        for (int b = 0; b < dim_; ++b) {
          if (c(a, b) == 0.0) continue;
          for (int e = 0; e < dim_; ++e)
            for (int f = 0; f < dim_; ++f)
              if (c(e, f) != 0.0) liouvillian_(a + e * dim_, b + f * dim_) += c(a, b) * c(e, f);
        }
      if (acc[o].first >= 0) {
        const Eigen::MatrixXd g = c.transpose() * c;  // tr(C X C^T) = sum g_ab X_ab
        for (int a = 0; a < dim_; ++a)
          for (int b = 0; b < dim_; ++b) liouvillian_(d2 + acc[o].first, a + b * dim_) += acc[o].second * g(a, b);
      }
    }
    for (int a = 0; a < dim_; ++a)
      for (int b = 0; b < dim_; ++b)
        for (int e = 0; e < dim_; ++e) {
          // -(K X + X K): (K X)_{ab} = sum_e K_ae X_eb; (X K)_{ab} = sum_e X_ae K_eb.
          liouvillian_(a + b * dim_, e + b * dim_) -= k(a, e);
          liouvillian_(a + b * dim_, a + e * dim_) -= k(e, b);
        }
    // Total-spin projectors per domain: eigenvectors of J^2 = J^+ J^- + J_z^2 - J_z.
    for (int i = 0; i < m; ++i) {
      const Eigen::MatrixXd j2 = jminus_[i].transpose() * jminus_[i] + jz_[i] * jz_[i] - jz_[i];
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(j2);
      std::vector<Eigen::MatrixXd> proj(static_cast<std::size_t>(model.spins[i] / 2 + 1),
                                        Eigen::MatrixXd::Zero(dim_, dim_));
      for (int v = 0; v < dim_; ++v) {
        const double lam = es.eigenvalues()[v];
        const double j = 0.5 * (-1.0 + std::sqrt(1.0 + 4.0 * std::max(0.0, lam)));
        const int col = static_cast<int>(std::lround(j - 0.5 * (model.spins[i] % 2)));
        proj[static_cast<std::size_t>(col)] += es.eigenvectors().col(v) * es.eigenvectors().col(v).transpose();
      }
      projectors_.push_back(std::move(proj));
    }
  }

  /// The start state: per domain excited, ground, dicke K (symmetric), product K (the permutation
  /// average: uniform mixture of the basis states with K up), coherent THETA 0.
  Eigen::MatrixXd initial_state() const {
    Eigen::MatrixXd rho = Eigen::MatrixXd::Ones(1, 1);
    for (int i = model_.num_domains() - 1; i >= 0; --i) {
      const int n = static_cast<int>(model_.spins[i]), d = 1 << n;
      Eigen::MatrixXd r = Eigen::MatrixXd::Zero(d, d);
      const InitialState& s = model_.initial[i];
      Eigen::VectorXd psi = Eigen::VectorXd::Zero(d);
      using K = InitialState::Kind;
      for (int b = 0; b < d; ++b) {
        const int ups = __builtin_popcount(static_cast<unsigned>(b));
        switch (s.kind) {
          case K::excited: psi[b] = ups == n; break;
          case K::ground: psi[b] = ups == 0; break;
          case K::dicke: psi[b] = ups == s.k; break;
          case K::product: r(b, b) = ups == s.k; break;
          case K::coherent:
            psi[b] = std::pow(std::cos(s.theta / 2), ups) * std::pow(std::sin(s.theta / 2), n - ups);
            break;
        }
      }
      if (s.kind == K::product) r /= r.trace();
      else r = psi * psi.transpose() / psi.squaredNorm();
      // Domain i occupies the lower bits of the remaining ones: kron(rho_rest, r).
      Eigen::MatrixXd out(rho.rows() * d, rho.cols() * d);
      for (int a = 0; a < rho.rows(); ++a)
        for (int b = 0; b < rho.cols(); ++b) out.block(a * d, b * d, d, d) = rho(a, b) * r;
      rho = out;
    }
    return rho;
  }

  /// The rows at t = 0, dt, 2 dt, ... (points rows).
  std::vector<FullSpaceRow> solve(double dt, int points) const {
    const Eigen::MatrixXd step = expm(liouvillian_ * dt);
    const Eigen::MatrixXd rho0 = initial_state();
    Eigen::VectorXd v = Eigen::VectorXd::Zero(liouvillian_.rows());
    v.head(dim_ * dim_) = Eigen::Map<const Eigen::VectorXd>(rho0.data(), dim_ * dim_);
    std::vector<FullSpaceRow> rows;
    for (int p = 0; p < points; ++p) {
      if (p > 0) v = step * v;
      rows.push_back(observe(v));
    }
    return rows;
  }

 private:
  FullSpaceRow observe(const Eigen::VectorXd& v) const {
    const Eigen::Map<const Eigen::MatrixXd> rho(v.data(), dim_, dim_);
    FullSpaceRow row;
    const int m = model_.num_domains(), d2 = dim_ * dim_;
    for (int i = 0; i < m; ++i) {
      row.jz.push_back((jz_[i] * rho).trace());
      row.jpjm.push_back((jminus_[i].transpose() * jminus_[i] * rho).trace());
      std::vector<double> pk(static_cast<std::size_t>(model_.spins[i] + 1), 0.0);
      for (int b = 0; b < dim_; ++b) {
        int ups = 0;
        for (int q = first_[i]; q < first_[i] + model_.spins[i]; ++q) ups += (b >> q) & 1;
        pk[static_cast<std::size_t>(ups)] += rho(b, b);
      }
      row.pk.push_back(pk);
      std::vector<double> pj;
      for (const auto& p : projectors_[i]) pj.push_back((p * rho).trace());
      row.pj.push_back(pj);
      row.local_emitted.push_back(v[d2 + n_res_ + 2 * i]);
      row.local_absorbed.push_back(v[d2 + n_res_ + 2 * i + 1]);
    }
    for (int r = 0; r < n_res_; ++r) row.emitted.push_back(v[d2 + r]);
    return row;
  }

  Eigen::MatrixXd lower(int q) const {  // s^-_q: up -> down
    Eigen::MatrixXd s = Eigen::MatrixXd::Zero(dim_, dim_);
    for (int b = 0; b < dim_; ++b)
      if ((b >> q) & 1) s(b ^ (1 << q), b) = 1.0;
    return s;
  }
  Eigen::MatrixXd sigma_z(int q) const {
    Eigen::MatrixXd s = Eigen::MatrixXd::Zero(dim_, dim_);
    for (int b = 0; b < dim_; ++b) s(b, b) = ((b >> q) & 1) ? 1.0 : -1.0;
    return s;
  }
  // exp(A): Taylor to degree 30 on A / 2^s with |A / 2^s|_1 <= 0.25, then squaring.
  static Eigen::MatrixXd expm(const Eigen::MatrixXd& a) {
    const double norm = a.cwiseAbs().colwise().sum().maxCoeff();
    int s = 0;
    while (norm / std::ldexp(1.0, s) > 0.25) ++s;
    const Eigen::MatrixXd x = a / std::ldexp(1.0, s);
    Eigen::MatrixXd term = Eigen::MatrixXd::Identity(a.rows(), a.cols()), sum = term;
    for (int k = 1; k <= 30; ++k) {
      term = term * x / k;
      sum += term;
    }
    for (int k = 0; k < s; ++k) sum = sum * sum;
    return sum;
  }

  const Model& model_;
  int n_ = 0, dim_ = 1, n_res_ = 0;
  std::vector<int> first_;
  std::vector<Eigen::MatrixXd> jminus_, jz_;
  std::vector<std::vector<Eigen::MatrixXd>> projectors_;
  Eigen::MatrixXd liouvillian_;
};

}  // namespace qtraj::test_local
