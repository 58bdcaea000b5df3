// The dephased steady state of the local exact solve (src/exact/local_steady.hpp; the math there
// and in docs/local.md "Steady state").
#include "exact/local_steady.hpp"

#include "exact/local_products.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <vector>

#include "qtraj/error.hpp"
#include "qtraj/model/local_ladder.hpp"

namespace qtraj::exact {
namespace {

// target(t_r, t_c) += scale * a_r a_c X(r, c) for a map with one target per source; returns
// tr(A X A^T). (As local_system.cpp's.)
template <class Source, class Target>
double add_local(const std::vector<int>& to, const std::vector<double>& amp, const Source& x,
                 Target&& target, double scale) {
  const int d = static_cast<int>(x.rows());
  double trace = 0.0;
  for (int c = 0; c < d; ++c) {
    const int tc = to[c];
    if (tc < 0) continue;
    const double ac = amp[c];
    trace += ac * ac * x(c, c);
    const double sc = scale * ac;
    for (int r = 0; r < d; ++r) {
      const int tr = to[r];
      if (tr >= 0) target(tr, tc) += sc * amp[r] * x(r, c);
    }
  }
  return trace;
}

constexpr double kSqrt2 = 1.4142135623730951;

}  // namespace

// One sweep over the physical sectors from the top (local_steady.hpp).
class LocalSteadySweep {
 public:
  LocalSteadySweep(const LocalSystem& system, const Model& model, double tol,
                   LocalSteadyStats& stats, std::int64_t max_dark)
      : sys_(system), tol_(tol), stats_(stats), max_dark_(max_dark) {
    const std::vector<LocalRates> rates = model.local_rates();
    for (int i = 0; i < model.num_domains(); ++i)
      c_ += rates[i].dephasing * static_cast<double>(model.spins[i]) / 8.0;
    for (int b = 0; b < sys_.num_blocks(); ++b) {
      double logd = 0.0;
      for (std::size_t i = 0; i < sys_.two_j(b).size(); ++i)
        logd += log_spin_degeneracy(sys_.spins_[i], sys_.two_j(b)[i]);
      log_d_.push_back(logd);
    }
    part_of_block_.assign(static_cast<std::size_t>(sys_.num_blocks()), -1);
  }

  Eigen::VectorXd run(const Eigen::VectorXd& y0) {
    if (!sys_.cascade_ || !(c_ > 0.0))
      throw Error(
          "local_steady_dephasing: pumping, nbar > 0 or no dephasing (bug: refused before)");
    Eigen::VectorXd out = Eigen::VectorXd::Zero(sys_.size_);
    inflow_ = y0.head(sys_.acc_);
    for (int n = sys_.n_cap_; n >= 0; --n) {
      if (sys_.by_n_[static_cast<std::size_t>(n)].empty()) continue;
      sector(n, out);
    }
    return out;
  }

 private:
  using Sector = LocalSystem::Sector;
  struct Part {  // one block's matrix in the physical sector
    int block = 0;
    const Sector* sec = nullptr;
    double w = 1.0, sw = 1.0;  // the product's weight (1/d_b up to one factor per sector), sqrt
    int r = 0;                 // K's dark vectors: sec->v's first r columns
    Eigen::Index coord = 0;    // offset of its r (r + 1) / 2 coordinates
  };

  // Coordinates of the symmetric part of x in the orthonormal basis of the dark space:
  // E_aa = v_a v_a^T / sw, E_ac = (v_a v_c^T + v_c v_a^T) / (sqrt 2 sw), a < c.
  void add_coords(const Part& p, const Eigen::Ref<const Eigen::MatrixXd>& x,
                  Eigen::VectorXd& s) const {
    if (p.r == 0) return;
    const auto v0 = p.sec->v.leftCols(p.r);
    const Eigen::MatrixXd g = v0.transpose() * x * v0;
    Eigen::Index k = p.coord;
    for (int a = 0; a < p.r; ++a) {
      s[k++] += p.sw * g(a, a);
      for (int c = a + 1; c < p.r; ++c) s[k++] += p.sw * (g(a, c) + g(c, a)) / kSqrt2;
    }
  }
  // x += sum_q s_q E_q over the part's coordinates.
  void add_from_coords(const Part& p, const Eigen::VectorXd& s,
                       Eigen::Ref<Eigen::MatrixXd> x) const {
    if (p.r == 0) return;
    Eigen::MatrixXd b(p.r, p.r);
    Eigen::Index k = p.coord;
    for (int a = 0; a < p.r; ++a) {
      b(a, a) = s[k++] / p.sw;
      for (int c = a + 1; c < p.r; ++c) b(a, c) = b(c, a) = s[k++] / (kSqrt2 * p.sw);
    }
    const auto v0 = p.sec->v.leftCols(p.r);
    x.noalias() += v0 * b * v0.transpose();
  }

  Eigen::Map<const Eigen::MatrixXd> view(const Part& p, const Eigen::VectorXd& x) const {
    return {x.data() + p.sec->packed, p.sec->d, p.sec->d};
  }
  Eigen::Map<Eigen::MatrixXd> view(const Part& p, Eigen::VectorXd& x) const {
    return {x.data() + p.sec->packed, p.sec->d, p.sec->d};
  }
  double dot(const Eigen::VectorXd& x, const Eigen::VectorXd& y) const {
    double sum = 0.0;
    for (const Part& p : parts_) {
      const Eigen::Index len = static_cast<Eigen::Index>(p.sec->d) * p.sec->d;
      sum += p.w * x.segment(p.sec->packed, len).dot(y.segment(p.sec->packed, len));
    }
    return sum;
  }

  // out = -L_n x: K x + x K minus dephasing's block maps inside the sector.
  void minus_l(const Eigen::VectorXd& x, Eigen::VectorXd& out) const {
    out.resize(x.size());
    for (const Part& p : parts_) {
      const auto xm = view(p, x);
      auto om = view(p, out);
      om.noalias() = p.sec->k * xm;
      om.noalias() += xm * p.sec->k;
    }
    for (const Part& p : parts_)
      for (const auto& jump : p.sec->local) {
        if (jump.dn != 0) continue;
        add_local(jump.target, jump.amp, view(p, x),
                  view(parts_[part_of_block_[jump.to_block]], out), -1.0);
      }
  }
  // z = (K . + . K)^{-1} r block by block, in K's eigenbasis.
  void precondition(const Eigen::VectorXd& r, Eigen::VectorXd& z) const {
    z.resize(r.size());
    Eigen::MatrixXd g;
    for (const Part& p : parts_) {
      const Sector& sec = *p.sec;
      g.noalias() = sec.v.transpose() * view(p, r) * sec.v;
      for (int c = 0; c < sec.d; ++c)
        for (int a = 0; a < sec.d; ++a) g(a, c) /= sec.lambda[a] + sec.lambda[c];
      view(p, z).noalias() = sec.v * g * sec.v.transpose();
    }
  }
  // x -= P_0 x (P_0: the orthogonal projection onto ker L_n in the weighted product).
  void deflate(Eigen::VectorXd& x) const {
    if (kernel_.cols() == 0) return;
    Eigen::VectorXd s = Eigen::VectorXd::Zero(dim_);
    for (const Part& p : parts_) add_coords(p, view(p, x), s);
    const Eigen::VectorXd coeff = -(kernel_ * (kernel_.transpose() * s));
    for (const Part& p : parts_) {
      auto xm = view(p, x);
      add_from_coords(p, coeff, xm);
    }
  }

  void build_parts(int n) {
    parts_.clear();
    const auto& pairs = sys_.by_n_[static_cast<std::size_t>(n)];
    double lo = 0.0, hi = 0.0, lmax = c_;
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      const double l = log_d_[pairs[k].first];
      lo = k == 0 ? l : std::min(lo, l);
      hi = k == 0 ? l : std::max(hi, l);
      const Sector& sec = sys_.blocks_[pairs[k].first].sectors[pairs[k].second];
      lmax = std::max(lmax, sec.lambda.maxCoeff());
    }
    lmax_ = lmax;
    const double ref = 0.5 * (lo + hi);  // keeps 1/d_b within range for any N the solver takes
    dim_ = 0;
    for (const auto& [b, sn] : pairs) {
      Part p;
      p.block = b;
      p.sec = &sys_.blocks_[b].sectors[sn];
      p.w = std::exp(ref - log_d_[b]);
      p.sw = std::sqrt(p.w);
      const double cut = c_ + tol_ * lmax;
      while (p.r < p.sec->d && p.sec->lambda[p.r] <= cut) ++p.r;
      p.coord = dim_;
      dim_ += static_cast<Eigen::Index>(p.r) * (p.r + 1) / 2;
      part_of_block_[b] = static_cast<int>(parts_.size());
      parts_.push_back(p);
    }
  }

  // ker L_n: the null space of Q = <E_p, L_n E_q> on the dark space (orthonormal columns in its
  // coordinates).
  void build_kernel() {
    kernel_.resize(dim_, 0);
    if (dim_ == 0) return;
    if (dim_ > max_dark_)
      throw InputError("local", fmt::format("a dark space of {} dimensions", dim_),
                       fmt::format("too large for the steady solver with dephasing (limit {}); use "
                                   "solver.kind = \"exact\" to a long time",
                                   max_dark_));
    stats_.largest_dark_space = std::max<std::int64_t>(stats_.largest_dark_space, dim_);
    Eigen::MatrixXd q = Eigen::MatrixXd::Zero(dim_, dim_);
    Eigen::VectorXd col(dim_);
    Eigen::MatrixXd e, zt;
    for (const Part& p : parts_) {
      const auto v0 = p.sec->v.leftCols(p.r);
      Eigen::Index k = p.coord;
      for (int a = 0; a < p.r; ++a)
        for (int c = a; c < p.r; ++c, ++k) {
          // E_{a c} (add_coords' basis); L E = -(K E + E K) + maps, K E + E K = (l_a + l_c) E.
          e.noalias() = v0.col(a) * v0.col(c).transpose();
          if (c == a)
            e /= p.sw;
          else
            e = (e + e.transpose()).eval() / (kSqrt2 * p.sw);
          col.setZero();
          col[k] = -(p.sec->lambda[a] + p.sec->lambda[c]);
          for (const auto& jump : p.sec->local) {
            if (jump.dn != 0) continue;
            const Part& pt = parts_[part_of_block_[jump.to_block]];
            if (pt.r == 0) continue;
            zt = Eigen::MatrixXd::Zero(pt.sec->d, pt.sec->d);
            add_local(jump.target, jump.amp, e, zt, 1.0);
            add_coords(pt, zt, col);
          }
          q.col(k) = col;
        }
    }
    const double scale = std::max(q.cwiseAbs().maxCoeff(), lmax_);
    stats_.max_q_asymmetry =
        std::max(stats_.max_q_asymmetry, (q - q.transpose()).cwiseAbs().maxCoeff() / scale);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (q + q.transpose()));
    int k = 0;  // eigenvalues ascending: the kernel is the top (Q <= 0)
    while (k < dim_ && es.eigenvalues()[dim_ - 1 - k] >= -tol_ * scale) ++k;
    kernel_ = es.eigenvectors().rightCols(k);
    stats_.kernel_dimension += k;
  }

  // Conjugate gradients for -L_n w = b on the range of L_n (b in it), in the weighted product.
  void solve_range(const Eigen::VectorXd& b, Eigen::VectorXd& w) {
    w = Eigen::VectorXd::Zero(b.size());
    const double b_norm = std::sqrt(dot(b, b));
    if (!(b_norm > 0.0)) return;
    Eigen::VectorXd r = b, z, p, ap;
    precondition(r, z);
    deflate(z);
    p = z;
    double rz = dot(r, z);
    constexpr int kMaxIterations = 20000;
    constexpr double kTarget = 1e-14, kAccept = 1e-9;  // rounding stops CG near 1e-15
    double rel = 1.0, best = 1.0;
    int best_at = 0;
    for (int it = 0; it < kMaxIterations; ++it) {
      minus_l(p, ap);
      const double pap = dot(p, ap);
      if (!(pap > 0.0)) break;
      const double alpha = rz / pap;
      w += alpha * p;
      r -= alpha * ap;
      deflate(r);
      ++stats_.cg_iterations;
      rel = std::sqrt(dot(r, r)) / b_norm;
      if (rel <= kTarget) return;
      if (rel < 0.5 * best) best = rel, best_at = it;
      if (it - best_at >= 100 && best <= kAccept) return;  // stagnating at rounding
      precondition(r, z);
      deflate(z);
      const double rz_next = dot(r, z);
      p = z + (rz_next / rz) * p;
      rz = rz_next;
    }
    if (!(rel <= kAccept))
      throw Error(
          fmt::format("steady solver (local processes): conjugate gradients stopped at a "
                      "relative residual of {:.2g} in a sector solve",
                      rel));
  }

  void sector(int n, Eigen::VectorXd& out) {
    build_parts(n);
    build_kernel();
    const Eigen::Index size = sys_.packed_size_[static_cast<std::size_t>(n)];
    Eigen::VectorXd rhs(size);
    for (const Part& p : parts_) {
      const Eigen::Index len = static_cast<Eigen::Index>(p.sec->d) * p.sec->d;
      rhs.segment(p.sec->packed, len) = inflow_.segment(p.sec->offset, len);
    }
    // X_n(inf) = P_0 R_n, and R_n - P_0 R_n feeds the time integral.
    Eigen::VectorXd range = rhs;
    deflate(range);
    Eigen::VectorXd w;
    solve_range(range, w);
    Eigen::MatrixXd t;
    for (const Part& p : parts_) {
      const Sector& sec = *p.sec;
      const Eigen::Index len = static_cast<Eigen::Index>(sec.d) * sec.d;
      out.segment(sec.offset, len) = rhs.segment(sec.packed, len) - range.segment(sec.packed, len);
      const Eigen::Map<const Eigen::MatrixXd> wm(w.data() + sec.packed, sec.d, sec.d);
      for (const auto& jump : sec.collective) {
        const Sector& to = sys_.blocks_[jump.to_block].sectors[jump.to_sector];
        out[sys_.acc_ + jump.accumulator] += add_collective(
            jump.op, wm, Eigen::Map<Eigen::MatrixXd>(inflow_.data() + to.offset, to.d, to.d), 1.0,
            t);
      }
      for (const auto& jump : sec.local) {
        if (jump.dn == 0) continue;  // inside L_n
        const Sector& to = sys_.blocks_[jump.to_block].sectors[jump.to_sector];
        const double quanta =
            add_local(jump.target, jump.amp, wm,
                      Eigen::Map<Eigen::MatrixXd>(inflow_.data() + to.offset, to.d, to.d), 1.0);
        if (jump.accumulator >= 0) out[sys_.acc_ + jump.accumulator] += quanta;
      }
    }
    for (const Part& p : parts_) part_of_block_[p.block] = -1;
  }

  const LocalSystem& sys_;
  double tol_;
  LocalSteadyStats& stats_;
  std::int64_t max_dark_;
  double c_ = 0.0, lmax_ = 0.0;
  std::vector<double> log_d_;
  std::vector<int> part_of_block_;
  std::vector<Part> parts_;
  Eigen::Index dim_ = 0;
  Eigen::MatrixXd kernel_;
  Eigen::VectorXd inflow_;
};

Eigen::VectorXd local_steady_dephasing(const LocalSystem& system, const Model& model,
                                       const Eigen::VectorXd& y0, double dark_tolerance,
                                       LocalSteadyStats& stats, std::int64_t max_dark_dimension) {
  return LocalSteadySweep(system, model, dark_tolerance, stats, max_dark_dimension).run(y0);
}

}  // namespace qtraj::exact
