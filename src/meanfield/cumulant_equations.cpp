// The second-order cumulant equations of docs/meanfield.md, compiled into a quadratic polynomial
// in scaled variables (see include/qtraj/meanfield/cumulant_equations.hpp for the equations and the layout).
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "qtraj/error.hpp"
#include "qtraj/meanfield/cumulant_equations.hpp"

namespace qtraj {
namespace meanfield {
namespace {

// A real linear expression sum_t coef_t * y[var_t] + constant, used to build the polynomial.
struct LinExpr {
  std::vector<std::pair<int, double>> terms;
  double constant = 0.0;
};

// Collects out += factor * A * B (and out += factor * A) into merged monomials.
class Builder {
 public:
  explicit Builder(int size) : constant_(size, 0.0) {}
  void add_product(int out, double factor, const LinExpr& a, const LinExpr& b) {
    if (factor == 0.0) return;
    for (const auto& [va, ca] : a.terms) {
      for (const auto& [vb, cb] : b.terms) {
        const int lo = std::min(va, vb), hi = std::max(va, vb);
        quad_[{out, lo, hi}] += factor * ca * cb;
      }
      lin_[{out, va}] += factor * ca * b.constant;
    }
    for (const auto& [vb, cb] : b.terms) lin_[{out, vb}] += factor * a.constant * cb;
    constant_[out] += factor * a.constant * b.constant;
  }
  void add_linear(int out, double factor, const LinExpr& a) {
    add_product(out, factor, a, LinExpr{{}, 1.0});
  }
  std::map<std::tuple<int, int, int>, double> quad_;
  std::map<std::pair<int, int>, double> lin_;
  std::vector<double> constant_;
};

double delta(int a, int b) { return a == b ? 1.0 : 0.0; }

// <J_p^+ J_c^z J_q^-> ~ C_pq (z_c - sigma(p, c, q)): the closure's shift.
double shift(Closure closure, int p, int c, int q) {
  switch (closure) {
    case Closure::z_right:  // alpha = 1, beta = 0
      return delta(c, q);
    case Closure::z_left:  // alpha = 0, beta = 1
      return delta(c, p);
    case Closure::symmetric:
    default:
      return (delta(c, p) + delta(c, q)) / 2;
  }
}

// The local processes' terms (docs/meanfield.md section 8): exact and linear in the moments,
// per domain i with rates g_e, g_p, g_phi and G = g_e + g_p + g_phi, N = N_i, p = N/2 + z
// (the spins up), X = C_ii - p (the cross-spin part of <J^+J^->) and Q = <J^2> - C_ii + z - N/4
// (the cross-spin part of <(J^z)^2>):
//   dz    = -g_e p + g_p (N - p)
//   dC_ii = -g_e p + g_p (N - p) - G X          dC_ik = -(G_i + G_k)/2 C_ik   (i != k)
//   d<J^-> = -G/2 <J^->
//   d<J^2> = -G X + (g_p - g_e)(N - 1) z - 2 (g_e + g_p) Q
//   dq_e  = g_e p,   dq_p = g_p (N - p).
// Returns G per domain (the growth rate's damping).
std::vector<double> add_local_terms(const CumulantEquations& eq, const Model& model,
                                    Builder& build) {
  const int m = eq.num_domains();
  const std::vector<LocalRates> rates = model.local_rates();
  std::vector<double> decay(m);
  const auto var = [](int index, double coef) { return LinExpr{{{index, coef}}, 0.0}; };
  const LinExpr one{{}, 1.0};
  for (int i = 0; i < m; ++i) decay[i] = rates[i].emission + rates[i].pumping + rates[i].dephasing;
  for (int i = 0; i < m; ++i) {
    const double ge = rates[i].emission, gp = rates[i].pumping, gf = rates[i].dephasing;
    const double n = static_cast<double>(model.spins[i]);
    const LinExpr z = var(eq.z_index(i), n), c = var(eq.diag_index(i), n * n);
    const LinExpr j2 = var(eq.j2_index(i), n * n);
    // Scaled outputs: z/N, C_ii/N^2, <J^2>/N^2, q/N.
    const int oz = eq.z_index(i), oc = eq.diag_index(i), oj = eq.j2_index(i);
    // dz = -(g_e + g_p) z + (g_p - g_e) N/2
    build.add_linear(oz, -(ge + gp) / n, z);
    build.add_linear(oz, (gp - ge) / 2, one);
    // dC_ii = -G C + g_phi (z + N/2) + g_p N
    build.add_linear(oc, -decay[i] / (n * n), c);
    build.add_linear(oc, gf / (n * n), z);
    build.add_linear(oc, (gf / 2 + gp) / n, one);
    // d<J^2> = -G (C - N/2 - z) + (g_p - g_e)(N - 1) z - 2 (g_e + g_p)(<J^2> - C + z - N/4)
    const double gs = ge + gp;
    build.add_linear(oj, (-decay[i] + 2 * gs) / (n * n), c);
    build.add_linear(oj, (decay[i] + (gp - ge) * (n - 1) - 2 * gs) / (n * n), z);
    build.add_linear(oj, -2 * gs / (n * n), j2);
    build.add_linear(oj, (decay[i] / 2 + gs / 2) / n, one);
    // d(q_e / N) = g_e (z/N + 1/2),  d(q_p / N) = g_p (1/2 - z/N)
    build.add_linear(eq.quanta_index(i, 0), ge / n, z);
    build.add_linear(eq.quanta_index(i, 0), ge / 2, one);
    build.add_linear(eq.quanta_index(i, 1), -gp / n, z);
    build.add_linear(eq.quanta_index(i, 1), gp / 2, one);
    // d<J_i^-> = -G/2 <J_i^-> (real and imaginary parts; scaled alike)
    if (eq.tracks_jminus())
      for (int part = 0; part < 2; ++part)
        build.add_linear(eq.jminus_index(i) + part, -decay[i] / 2,
                         var(eq.jminus_index(i) + part, 1.0));
    // dC_ik = -(G_i + G_k)/2 C_ik, i < k (Re and Im; scaled alike)
    for (int k = i + 1; k < m; ++k)
      for (int part = 0; part < 2; ++part) {
        const int o = eq.offdiag_index(i, k) + part;
        build.add_linear(o, -(decay[i] + decay[k]) / 2, var(o, 1.0));
      }
  }
  return decay;
}

}  // namespace

Closure parse_closure(const std::string& name) {
  if (name == "symmetric") return Closure::symmetric;
  if (name == "z_right") return Closure::z_right;
  if (name == "z_left") return Closure::z_left;
  if (name == "fourth_order") return Closure::fourth_order;
  throw InputError("solver.closure", "\"" + name + "\"",
                   "must be one of symmetric, z_right, z_left, fourth_order");
}

std::string closure_name(Closure closure) {
  switch (closure) {
    case Closure::z_right:
      return "z_right";
    case Closure::z_left:
      return "z_left";
    case Closure::fourth_order:
      return "fourth_order";
    case Closure::symmetric:
    default:
      return "symmetric";
  }
}

DomainMoments initial_domain_moments(const InitialState& state, long long n_spins) {
  const double n = static_cast<double>(n_spins);
  DomainMoments m;
  using Kind = InitialState::Kind;
  auto dicke = [&](double k) {
    // |j = N/2, m = k - N/2>: <J^+J^-> = (j + m)(j - m + 1) = k (N - k + 1).
    m.z = k - n / 2;
    m.jpjm = k * (n - k + 1);
    m.j2 = n / 2 * (n / 2 + 1);
  };
  switch (state.kind) {
    case Kind::excited:
      dicke(n);
      break;
    case Kind::ground:
      dicke(0);
      break;
    case Kind::dicke:
      dicke(static_cast<double>(state.k));
      break;
    case Kind::product: {
      // K spins up: <J^+J^-> = sum_{a,b} <s_a^+ s_b^-> = sum_a <s_a^+ s_a^-> = K (cross terms
      // factorise into <s^+><s^-> = 0); <J^2> = 3N/4 + sum_{a != b} <s_a^z s_b^z> = N/2 + m^2.
      const double k = static_cast<double>(state.k);
      m.z = k - n / 2;
      m.jpjm = k;
      m.j2 = n / 2 + m.z * m.z;
      break;
    }
    case Kind::coherent: {
      // Each spin cos(t/2)|up> + e^{i phi} sin(t/2)|down>: <s^z> = cos(t)/2,
      // <s^-> = e^{-i phi} sin(t)/2, <s^+ s^-> = cos^2(t/2). For N identical spins
      // <J^+J^-> = N(N-1)|<s^->|^2 + N <s^+s^->, and the state lies in j = N/2.
      const double ct = std::cos(state.theta), st = std::sin(state.theta);
      m.z = n * ct / 2;
      m.jminus = std::polar(n * st / 2, -state.phi);
      m.jpjm = n * (n - 1) * st * st / 4 + n * (1 + ct) / 2;
      m.j2 = n / 2 * (n / 2 + 1);
      break;
    }
  }
  return m;
}

int CumulantEquations::offdiag_index(int i, int k) const {
  const int m = num_domains();
  // Pairs (i, k), i < k, in row order; two slots each.
  const int before = i * m - i * (i + 1) / 2;  // pairs with first index < i
  return 2 * m + 2 * (before + (k - i - 1));
}

CumulantEquations::CumulantEquations(const Model& model, Closure closure)
    : n_(model.spins), initial_(model.initial), closure_(closure) {
  model.validate();
  if (closure == Closure::fourth_order)
    throw std::invalid_argument("CumulantEquations: fourth_order is MomentEquations' closure");
  const int m = num_domains();
  size_ = 2 * m + m * (m - 1);
  for (int i = 0; i < m; ++i)
    if (std::abs(initial_domain_moments(initial_[i], n_[i]).jminus) > 0) track_jminus_ = true;
  if (track_jminus_) size_ += 2 * m;
  local_base_ = size_;
  local_ = model.has_local();
  if (local_) size_ += 3 * m;  // <J_i^2>, then the local quanta (emitted, absorbed) per domain
  const auto nn = [&](int i) { return static_cast<double>(n_[i]); };

  // Unscaled quantities as linear expressions of the scaled variables.
  auto z = [&](int i) { return LinExpr{{{z_index(i), nn(i)}}, 0.0}; };
  auto c_re = [&](int l, int k) {
    if (l == k) return LinExpr{{{diag_index(l), nn(l) * nn(l)}}, 0.0};
    const int a = std::min(l, k), b = std::max(l, k);
    return LinExpr{{{offdiag_index(a, b), nn(l) * nn(k)}}, 0.0};
  };
  auto c_im = [&](int l, int k) {  // Im C_lk = -Im C_kl
    if (l == k) return LinExpr{};
    const int a = std::min(l, k), b = std::max(l, k);
    return LinExpr{{{offdiag_index(a, b) + 1, (l < k ? 1.0 : -1.0) * nn(l) * nn(k)}}, 0.0};
  };
  auto shifted_z = [&](int i, double shift) {
    LinExpr e = z(i);
    e.constant = shift;
    return e;
  };

  std::vector<double> j2(m);
  for (int i = 0; i < m; ++i) j2[i] = initial_domain_moments(initial_[i], n_[i]).j2;

  const auto sigma = [&](int p, int c, int q) { return shift(closure_, p, c, q); };
  Builder build(size_);
  channels_ = collapse_channels(model);
  for (const Channel& ch : channels_) {
    std::vector<char> in(m, 0);
    for (int d : ch.domains) in[d] = 1;
    const auto& set = ch.domains;
    const double g = ch.rate;

    // dz_i: lowering  -a Re sum_{j in S} C_ij;  raising  b (Re sum_{j in S} C_ij - 2 z_i).
    for (int i : set) {
      const double sign = ch.raising ? 1.0 : -1.0;
      for (int j : set) build.add_linear(z_index(i), sign * g / nn(i), c_re(i, j));
      if (ch.raising) build.add_linear(z_index(i), -2.0 * g / nn(i), z(i));
    }

    // d<J_i^->: a (z_i sum_{j in S} b_j - b_i/2) lowering, -b (z_i sum_{j in S} b_j + b_i/2)
    // raising, b_j = <J_j^->; real and imaginary parts obey the same real equation.
    if (track_jminus_)
      for (int i : set)
        for (int part = 0; part < 2; ++part) {
          const int out = jminus_index(i) + part;
          const double sign = ch.raising ? -1.0 : 1.0;
          for (int j : set)
            build.add_product(out, sign * g / nn(i), z(i),
                              LinExpr{{{jminus_index(j) + part, nn(j)}}, 0.0});
          build.add_linear(out, -g / (2 * nn(i)), LinExpr{{{jminus_index(i) + part, nn(i)}}, 0.0});
        }

    // dC_ik for i <= k; the (k, i) equation is the complex conjugate.
    for (int i = 0; i < m; ++i) {
      for (int k = i; k < m; ++k) {
        if (!in[i] && !in[k]) continue;
        const double scale = 1.0 / (nn(i) * nn(k));
        const int out_re = i == k ? diag_index(i) : offdiag_index(i, k);
        const int out_im = i == k ? -1 : out_re + 1;
        // factor * C_pq * (z_r + shift)
        auto add_cz = [&](double factor, int p, int q, int r, double shift) {
          const LinExpr zr = shifted_z(r, shift);
          build.add_product(out_re, factor * scale, c_re(p, q), zr);
          if (out_im >= 0) build.add_product(out_im, factor * scale, c_im(p, q), zr);
        };
        // Closure <J_p^+ J_c^z J_q^-> ~ C_pq (z_c - sigma(p, c, q)); moving J_c^z to the
        // right or left of J_p^+ J_q^- first costs exact commutators:
        //   <J_p^+ J_q^- J_c^z> = <J_p^+ J_c^z J_q^-> + d_cq C_pq,
        //   <J_c^z J_p^+ J_q^-> = <J_p^+ J_c^z J_q^-> + d_cp C_pq.
        if (!ch.raising) {
          // a [ s_i sum_l <J_l^+ J_i^z J_k^-> + s_k sum_j <J_i^+ J_k^z J_j^-> ]
          if (in[i])
            for (int l : set) add_cz(g, l, k, i, -sigma(l, i, k));
          if (in[k])
            for (int j : set) add_cz(g, i, j, k, -sigma(i, k, j));
        } else {
          // -b [ s_k sum_l <J_i^+ J_l^- J_k^z> + s_i sum_j <J_i^z J_j^+ J_k^-> ] + 4 b s_i s_k ZZ_ik
          // (J_l^- J_i^+ = J_i^+ J_l^- - 2 d_il J_i^z and J_k^- J_j^+ = J_j^+ J_k^- - 2 d_jk J_k^z
          // reorder the raising-channel moments and leave the ZZ remainder)
          if (in[k])
            for (int l : set) add_cz(-g, i, l, k, delta(k, l) - sigma(i, k, l));
          if (in[i])
            for (int j : set) add_cz(-g, j, k, i, delta(i, j) - sigma(j, i, k));
          if (in[i] && in[k]) {
            if (i == k) {
              // ZZ_ii = <J_i^2> - C_ii + z_i  (exact; <J_i^2> is conserved)
              LinExpr zz = c_re(i, i);
              for (auto& t : zz.terms) t.second = -t.second;
              zz.terms.push_back({z_index(i), nn(i)});
              if (local_)  // <J_i^2> is a variable: local processes change it
                zz.terms.push_back({j2_index(i), nn(i) * nn(i)});
              else
                zz.constant = j2[i];
              build.add_linear(out_re, 4 * g * scale, zz);
            } else {
              // ZZ_ik ~ z_i z_k (closure of the cross-domain z-z covariance)
              build.add_product(out_re, 4 * g * scale, z(i), z(k));
            }
          }
        }
      }
    }
  }

  if (local_) local_decay_ = add_local_terms(*this, model, build);

  for (const auto& [key, coef] : build.quad_)
    if (coef != 0.0) quad_.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), coef});
  for (const auto& [key, coef] : build.lin_)
    if (coef != 0.0) lin_.push_back({key.first, key.second, coef});
  constant_ = build.constant_;

  // Sparse Jacobian pattern: every (out, a), (out, b) of a monomial, plus the diagonal (which
  // W = I/(gamma h) - J needs); then each monomial's slots in the compressed value array.
  std::vector<Eigen::Triplet<double>> entries;
  for (int i = 0; i < size_; ++i) entries.emplace_back(i, i, 0.0);
  for (const Lin& t : lin_) entries.emplace_back(t.out, t.a, 0.0);
  for (const Quad& t : quad_) {
    entries.emplace_back(t.out, t.a, 0.0);
    entries.emplace_back(t.out, t.b, 0.0);
  }
  pattern_.resize(size_, size_);
  pattern_.setFromTriplets(entries.begin(), entries.end());
  pattern_.makeCompressed();
  auto slot = [&](int row, int col) {
    const int* begin = pattern_.innerIndexPtr() + pattern_.outerIndexPtr()[col];
    const int* end = pattern_.innerIndexPtr() + pattern_.outerIndexPtr()[col + 1];
    return static_cast<int>(std::lower_bound(begin, end, row) - pattern_.innerIndexPtr());
  };
  for (const Lin& t : lin_) lin_pos_.push_back(slot(t.out, t.a));
  for (const Quad& t : quad_) {
    quad_pos_a_.push_back(slot(t.out, t.a));
    quad_pos_b_.push_back(slot(t.out, t.b));
  }
}

Moments CumulantEquations::initial_moments() const {
  const int m = num_domains();
  Moments mom;
  mom.z.assign(m, 0.0);
  mom.c.assign(static_cast<std::size_t>(m) * m, 0.0);
  mom.jminus.assign(m, 0.0);
  std::vector<DomainMoments> d(m);
  for (int i = 0; i < m; ++i) {
    d[i] = initial_domain_moments(initial_[i], n_[i]);
    mom.z[i] = d[i].z;
    mom.jminus[i] = d[i].jminus;
  }
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < m; ++k)
      mom.C(i, k) = i == k ? std::complex<double>(d[i].jpjm) : std::conj(d[i].jminus) * d[k].jminus;
  mom.j2.resize(m);
  for (int i = 0; i < m; ++i) mom.j2[i] = d[i].j2;
  mom.quanta.assign(2 * static_cast<std::size_t>(m), 0.0);
  return mom;
}

Eigen::VectorXd CumulantEquations::pack(const Moments& mom) const {
  const int m = num_domains();
  Eigen::VectorXd y(size_);
  for (int i = 0; i < m; ++i) {
    const double ni = static_cast<double>(n_[i]);
    y[z_index(i)] = mom.z[i] / ni;
    y[diag_index(i)] = mom.C(i, i).real() / (ni * ni);
    for (int k = i + 1; k < m; ++k) {
      const std::complex<double> c = mom.C(i, k) / (ni * static_cast<double>(n_[k]));
      y[offdiag_index(i, k)] = c.real();
      y[offdiag_index(i, k) + 1] = c.imag();
    }
    if (track_jminus_) {
      const std::complex<double> b = i < static_cast<int>(mom.jminus.size()) ? mom.jminus[i] : 0.0;
      y[jminus_index(i)] = b.real() / ni;
      y[jminus_index(i) + 1] = b.imag() / ni;
    }
    if (local_) {
      const double j2 = i < static_cast<int>(mom.j2.size())
                            ? mom.j2[i]
                            : initial_domain_moments(initial_[i], n_[i]).j2;
      y[j2_index(i)] = j2 / (ni * ni);
      for (int p = 0; p < 2; ++p)
        y[quanta_index(i, p)] =
            2 * i + p < static_cast<int>(mom.quanta.size()) ? mom.quanta[2 * i + p] / ni : 0.0;
    }
  }
  return y;
}

Moments CumulantEquations::unpack(const Eigen::VectorXd& y) const {
  const int m = num_domains();
  Moments mom;
  mom.z.assign(m, 0.0);
  mom.c.assign(static_cast<std::size_t>(m) * m, 0.0);
  mom.jminus.assign(m, 0.0);
  if (local_) {
    mom.j2.resize(m);
    mom.quanta.resize(2 * static_cast<std::size_t>(m));
  }
  for (int i = 0; i < m; ++i) {
    const double ni = static_cast<double>(n_[i]);
    mom.z[i] = y[z_index(i)] * ni;
    if (local_) {
      mom.j2[i] = y[j2_index(i)] * ni * ni;
      for (int p = 0; p < 2; ++p) mom.quanta[2 * i + p] = y[quanta_index(i, p)] * ni;
    }
    if (track_jminus_)
      mom.jminus[i] = std::complex<double>(y[jminus_index(i)], y[jminus_index(i) + 1]) * ni;
    mom.C(i, i) = y[diag_index(i)] * ni * ni;
    for (int k = i + 1; k < m; ++k) {
      const double s = ni * static_cast<double>(n_[k]);
      mom.C(i, k) = std::complex<double>(y[offdiag_index(i, k)], y[offdiag_index(i, k) + 1]) * s;
      mom.C(k, i) = std::conj(mom.C(i, k));
    }
  }
  return mom;
}

void CumulantEquations::rhs(const Eigen::VectorXd& y, Eigen::VectorXd& dy) const {
  dy.resize(size_);
  for (int o = 0; o < size_; ++o) dy[o] = constant_[o];
  for (const Lin& t : lin_) dy[t.out] += t.coef * y[t.a];
  for (const Quad& t : quad_) dy[t.out] += t.coef * y[t.a] * y[t.b];
}

void CumulantEquations::jacobian(const Eigen::VectorXd& y, Eigen::MatrixXd& jac) const {
  jac.setZero(size_, size_);
  for (const Lin& t : lin_) jac(t.out, t.a) += t.coef;
  for (const Quad& t : quad_) {
    jac(t.out, t.a) += t.coef * y[t.b];
    jac(t.out, t.b) += t.coef * y[t.a];
  }
}

void CumulantEquations::jacobian(const Eigen::VectorXd& y, Eigen::SparseMatrix<double>& jac) const {
  if (jac.nonZeros() != pattern_.nonZeros() || jac.rows() != size_ || !jac.isCompressed())
    jac = pattern_;
  double* v = jac.valuePtr();
  std::fill(v, v + jac.nonZeros(), 0.0);
  for (std::size_t n = 0; n < lin_.size(); ++n) v[lin_pos_[n]] += lin_[n].coef;
  for (std::size_t n = 0; n < quad_.size(); ++n) {
    const Quad& t = quad_[n];
    v[quad_pos_a_[n]] += t.coef * y[t.b];
    v[quad_pos_b_[n]] += t.coef * y[t.a];
  }
}

double superradiant_growth_rate(const std::vector<Channel>& channels, const std::vector<double>& z,
                                const std::vector<double>& local_decay) {
  const int m = static_cast<int>(z.size());
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(m, m);
  for (const Channel& ch : channels)
    for (int i : ch.domains) {
      const double zr = ch.raising ? -ch.rate * (z[i] + 0.5) : ch.rate * (z[i] - 0.5);
      for (int l : ch.domains) k(i, l) += zr;  // (Z_r E_r)_{il}
    }
  for (std::size_t i = 0; i < local_decay.size(); ++i) k(i, i) -= local_decay[i] / 2;
  if (m == 1) return std::max(0.0, 2 * k(0, 0));
  const Eigen::VectorXcd ev = Eigen::EigenSolver<Eigen::MatrixXd>(k, false).eigenvalues();
  double top = 0;
  for (Eigen::Index i = 0; i < ev.size(); ++i) top = std::max(top, ev[i].real());
  return 2 * top;
}

double CumulantEquations::growth_rate(const Eigen::VectorXd& y) const {
  std::vector<double> z(num_domains());
  for (int i = 0; i < num_domains(); ++i) z[i] = y[z_index(i)] * static_cast<double>(n_[i]);
  return superradiant_growth_rate(channels_, z, local_decay_);
}

Moments CumulantEquations::derivative(const Moments& m) const {
  Eigen::VectorXd dy;
  rhs(pack(m), dy);
  return unpack(dy);
}

}  // namespace meanfield
}  // namespace qtraj
