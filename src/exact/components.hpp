#pragma once
// Private to src/exact: the initial state as a mixture over the cartesian product of the domains'
// fixed-j components (initial_components in model.hpp), shared by solve_exact and solve_steady.
// Each combination lives in its own DickeSpace(two_j); its weight is the product of the domains'.
#include <complex>
#include <functional>
#include <string>
#include <vector>

#include "qtraj/error.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {
namespace exact {

// Each domain's fixed-j components (initial_components); InputError if one has none.
inline std::vector<std::vector<DomainComponent>> domain_components(const Model& model) {
  const int m = model.num_domains();
  std::vector<std::vector<DomainComponent>> per_domain(m);
  for (int i = 0; i < m; ++i) {
    per_domain[i] = initial_components(model.initial[i], model.spins[i]);
    if (per_domain[i].empty())
      throw InputError("system.initial[" + std::to_string(i + 1) + "]",
                       model.initial[i].to_string(), "has no component");
  }
  return per_domain;
}

// prod_i (number of components of domain i).
inline std::size_t num_combinations(const std::vector<std::vector<DomainComponent>>& per_domain) {
  std::size_t n = 1;
  for (const auto& d : per_domain) n *= d.size();
  return n;
}

// One combination: a component per domain, its weight prod_i w_i, and the spins 2 j_i.
struct Combination {
  std::vector<const DomainComponent*> pick;
  double weight = 1.0;
  std::vector<int> two_j;
};

// The cartesian product of the domains' components: one callback per combination.
inline void for_each_combination(const std::vector<std::vector<DomainComponent>>& per_domain,
                                 const std::function<void(const Combination&)>& fn) {
  const std::size_t m = per_domain.size();
  std::vector<std::size_t> idx(m, 0);
  Combination c;
  c.pick.resize(m);
  c.two_j.resize(m);
  while (true) {
    c.weight = 1.0;
    for (std::size_t i = 0; i < m; ++i) {
      c.pick[i] = &per_domain[i][idx[i]];
      c.weight *= c.pick[i]->weight;
      c.two_j[i] = c.pick[i]->two_j;
    }
    fn(c);
    std::size_t i = m;
    while (i > 0) {
      --i;
      if (++idx[i] < per_domain[i].size()) break;
      idx[i] = 0;
      if (i == 0) return;
    }
    if (m == 0) return;
  }
}

// psi = tensor product of the picked components' amplitudes, indexed by the DickeSpace order.
inline std::vector<std::complex<double>> product_state(
    const DickeSpace& space, const std::vector<const DomainComponent*>& pick) {
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()));
  for (std::int64_t s = 0; s < space.dim(); ++s) {
    std::complex<double> a = 1.0;
    for (int i = 0; i < space.num_domains(); ++i) a *= pick[i]->amplitudes[space.k(s, i)];
    psi[static_cast<std::size_t>(s)] = a;
  }
  return psi;
}

}  // namespace exact
}  // namespace qtraj
