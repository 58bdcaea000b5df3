// Cumulant equations of order K generated from the normal-ordered spin algebra
// (include/qtraj/meanfield/moment_equations.hpp; derivation in docs/meanfield.md section 3.3).
#include "qtraj/meanfield/moment_equations.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "qtraj/error.hpp"
#include "qtraj/meanfield/cumulant_equations.hpp"

namespace qtraj {
namespace meanfield {
namespace {

// <(J^+)^a (J^z)^b (J^-)^c> of one domain's initial state (a J^z eigenstate, or a mixture of
// eigenstates with the same m): zero unless a = c; J^- lowers m by one, so
//   <(J^+)^a (J^z)^b (J^-)^a> = (m - a)^b <(J^+)^a (J^-)^a>,
// with <(J^+)^a (J^-)^a> = prod_{t < a} (j + m - t)(j - m + t + 1) for |j = N/2, m>, and
// a! K (K-1) .. (K-a+1) for `product K` ((J^-)^a on K up spins: a! times each a-subset flipped).
double word_moment(const Word& w, const InitialState& state, long long n_spins) {
  if (w.a != w.c) return 0.0;
  const DomainMoments d = initial_domain_moments(state, n_spins);
  const double m = d.z, j = static_cast<double>(n_spins) / 2;
  double raise_lower = 1.0;
  for (int t = 0; t < w.a; ++t) {
    if (state.kind == InitialState::Kind::product) {
      const double k = m + j;  // number of up spins
      raise_lower *= (t + 1) * (k - t);
    } else {
      raise_lower *= (j + m - t) * (j - m + t + 1);
    }
  }
  return std::pow(m - w.a, w.b) * raise_lower;
}

}  // namespace

MomentEquations::MomentEquations(const Model& model, int order)
    : n_(model.spins), initial_(model.initial), order_(order) {
  model.validate();
  if (order < 2 || order + 1 > kMaxDegree)
    throw std::invalid_argument("MomentEquations: order must lie in 2..7");
  const int m = num_domains();
  for (int i = 0; i < m; ++i)
    if (initial_[i].kind == InitialState::Kind::coherent)
      throw InputError("solver.closure", "\"fourth_order\"",
                       "does not support coherent initial states (domain " + std::to_string(i + 1) +
                           "); use z_right or symmetric");
  channels_ = collapse_channels(model);

  for (int i = 0; i < m; ++i) add_variable(letter(m, i, 'z'));
  for (int i = 0; i < m; ++i)
    for (int k = i; k < m; ++k)
      add_variable(multiply(letter(m, i, '+'), letter(m, k, '-')).begin()->first);

  // Breadth first over the variables the equations reach; vars_ grows inside the loop.
  std::map<std::pair<int, std::vector<int>>, double> merged;
  for (std::size_t v = 0; v < vars_.size(); ++v) {
    const Monomial a = vars_[v];
    for (const auto& [mono, coef] : heisenberg(a))
      for (const auto& [c, fac] : expand(mono)) {
        std::vector<int> idx;
        double s = 1.0;
        for (const Monomial& f : fac) {
          idx.push_back(add_variable(f));
          s *= scale_[idx.back()];
        }
        std::sort(idx.begin(), idx.end());
        merged[{static_cast<int>(v), idx}] += coef * c * s / scale_[v];
      }
  }
  for (const auto& [key, coef] : merged) {
    if (coef == 0.0) continue;
    Term t;
    t.out = key.first;
    t.degree = static_cast<int>(key.second.size());
    t.coef = coef;
    std::copy(key.second.begin(), key.second.end(), t.v.begin());
    terms_.push_back(t);
  }

  const int size = this->size();
  std::vector<Eigen::Triplet<double>> entries;
  for (int i = 0; i < size; ++i) entries.emplace_back(i, i, 0.0);
  for (const Term& t : terms_)
    for (int p = 0; p < t.degree; ++p) entries.emplace_back(t.out, t.v[p], 0.0);
  pattern_.resize(size, size);
  pattern_.setFromTriplets(entries.begin(), entries.end());
  pattern_.makeCompressed();
  for (const Term& t : terms_) {
    std::array<int, kMaxDegree> pos{};
    for (int p = 0; p < t.degree; ++p) {
      const int col = t.v[p];
      const int* begin = pattern_.innerIndexPtr() + pattern_.outerIndexPtr()[col];
      const int* end = pattern_.innerIndexPtr() + pattern_.outerIndexPtr()[col + 1];
      pos[p] = static_cast<int>(std::lower_bound(begin, end, t.out) - pattern_.innerIndexPtr());
    }
    term_pos_.push_back(pos);
  }
}

int MomentEquations::add_variable(const Monomial& m) {
  const Monomial c = canonical(m);
  const auto it = index_.find(c);
  if (it != index_.end()) return it->second;
  const int v = static_cast<int>(vars_.size());
  vars_.push_back(c);
  index_.emplace(c, v);
  double s = 1.0;
  for (std::size_t d = 0; d < c.size(); ++d)
    s *= std::pow(static_cast<double>(n_[d]), c[d].letters());
  scale_.push_back(s);
  return v;
}

int MomentEquations::index(const Monomial& m) const {
  const auto it = index_.find(canonical(m));
  return it == index_.end() ? -1 : it->second;
}

int MomentEquations::c_index(int i, int k) const {
  const int m = num_domains();
  return index(multiply(letter(m, i, '+'), letter(m, k, '-')).begin()->first);
}

Operator MomentEquations::heisenberg(const Monomial& a) const {
  // d<A>/dt = sum_c g/2 sum_{l, j in S} < X_l [A, Y_j] + [X_l, A] Y_j >, with X = J^+, Y = J^-
  // for a lowering channel (L = sum_j J_j^-) and X = J^-, Y = J^+ for a raising one.
  Operator out;
  const int m = num_domains();
  auto add = [&](double f, const Operator& x, const Monomial& right, bool right_side) {
    for (const auto& [mono, c] : x) {
      const Operator p = right_side ? multiply(mono, right) : multiply(right, mono);
      for (const auto& [q, cq] : p) out[q] += f * c * cq;
    }
  };
  for (const Channel& ch : channels_)
    for (int l : ch.domains)
      for (int j : ch.domains) {
        const Monomial x = letter(m, l, ch.raising ? '-' : '+');
        const Monomial y = letter(m, j, ch.raising ? '+' : '-');
        add(ch.rate / 2, commutator(a, y), x, false);  // X_l [A, Y_j]
        add(ch.rate / 2, commutator(x, a), y, true);   // [X_l, A] Y_j
      }
  for (auto it = out.begin(); it != out.end();) it = it->second == 0.0 ? out.erase(it) : std::next(it);
  return out;
}

MomentEquations::Expansion MomentEquations::expand(const Monomial& m) const {
  const int n = letters(m);
  if (n == 0) return {{1.0, {}}};
  if (charge(m) != 0) return {};
  if (n <= order_) return {{1.0, {m}}};
  Expansion result;
  for (const auto& partition : set_partitions(n)) {
    const int blocks = static_cast<int>(partition.size());
    if (blocks < 2) continue;
    double weight = (blocks % 2 == 0) ? 1.0 : -1.0;  // -(-1)^(|P|-1) (|P|-1)!
    for (int f = 2; f < blocks; ++f) weight *= f;
    Expansion acc{{weight, {}}};
    for (const auto& block : partition) {
      const Expansion e = expand(sub_monomial(m, block));
      Expansion next;
      for (const auto& [ca, fa] : acc)
        for (const auto& [cb, fb] : e) {
          std::vector<Monomial> f = fa;
          f.insert(f.end(), fb.begin(), fb.end());
          next.emplace_back(ca * cb, std::move(f));
        }
      acc.swap(next);
      if (acc.empty()) break;
    }
    result.insert(result.end(), acc.begin(), acc.end());
  }
  return result;
}

Eigen::VectorXd MomentEquations::initial_state() const {
  Eigen::VectorXd y(size());
  for (int v = 0; v < size(); ++v) {
    double value = 1.0;
    for (int d = 0; d < num_domains(); ++d)
      value *= word_moment(vars_[v][d], initial_[d], n_[d]);
    y[v] = value / scale_[v];
  }
  return y;
}

void MomentEquations::rhs(const Eigen::VectorXd& y, Eigen::VectorXd& dy) const {
  dy.setZero(size());
  for (const Term& t : terms_) {
    double p = t.coef;
    for (int q = 0; q < t.degree; ++q) p *= y[t.v[q]];
    dy[t.out] += p;
  }
}

void MomentEquations::jacobian(const Eigen::VectorXd& y, Eigen::MatrixXd& jac) const {
  jac.setZero(size(), size());
  for (const Term& t : terms_)
    for (int p = 0; p < t.degree; ++p) {
      double d = t.coef;
      for (int q = 0; q < t.degree; ++q)
        if (q != p) d *= y[t.v[q]];
      jac(t.out, t.v[p]) += d;
    }
}

void MomentEquations::jacobian(const Eigen::VectorXd& y, Eigen::SparseMatrix<double>& jac) const {
  if (jac.nonZeros() != pattern_.nonZeros() || jac.rows() != size() || !jac.isCompressed())
    jac = pattern_;
  double* val = jac.valuePtr();
  std::fill(val, val + jac.nonZeros(), 0.0);
  for (std::size_t n = 0; n < terms_.size(); ++n) {
    const Term& t = terms_[n];
    for (int p = 0; p < t.degree; ++p) {
      double d = t.coef;
      for (int q = 0; q < t.degree; ++q)
        if (q != p) d *= y[t.v[q]];
      val[term_pos_[n][p]] += d;
    }
  }
}

double MomentEquations::growth_rate(const Eigen::VectorXd& y) const {
  std::vector<double> z(num_domains());
  for (int i = 0; i < num_domains(); ++i) z[i] = y[z_index(i)] * static_cast<double>(n_[i]);
  return superradiant_growth_rate(channels_, z);
}

double MomentEquations::closed_value(const Monomial& m,
                                     const std::function<double(const Monomial&)>& moment) const {
  double total = 0.0;
  for (const auto& [c, fac] : expand(m)) {
    double p = c;
    for (const Monomial& f : fac) p *= moment(f);
    total += p;
  }
  return total;
}

}  // namespace meanfield
}  // namespace qtraj
