#pragma once
// Test-only reference for the mean-field tests: moments and their first time derivative straight
// from the Lindblad form on dense Dicke-basis matrices, and the initial states for which the
// cumulant closure must be exact at t = 0. Shared by meanfield_test.cpp and closure_test.cpp.
#include <Eigen/Dense>
#include <cmath>
#include <complex>
#include <functional>
#include <string>
#include <vector>

#include "qtraj/meanfield/cumulant_equations.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj_test_meanfield {

using qtraj::InitialState;
using qtraj::Model;
using qtraj::Reservoir;
using qtraj::meanfield::Moments;
using CMat = Eigen::MatrixXcd;

inline InitialState state(const std::string& text, long long n) {
  return InitialState::parse(text, n, "test");
}

inline Model make_model(const std::vector<long long>& n, const std::vector<std::string>& init,
                 std::vector<Reservoir> reservoirs = {}) {
  Model m;
  m.spins = n;
  for (std::size_t i = 0; i < n.size(); ++i) m.initial.push_back(state(init[i], n[i]));
  m.reservoirs = std::move(reservoirs);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Independent reference: moments and their first time derivative straight from the Lindblad
// form, on dense matrices in the tensor product of fixed-j Dicke spaces. Mixed initial states
// ("product K") are handled by linearity over the components of initial_components().
// ---------------------------------------------------------------------------------------------
inline CMat kron(const CMat& a, const CMat& b) {
  CMat r(a.rows() * b.rows(), a.cols() * b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j)
      r.block(i * b.rows(), j * b.cols(), b.rows(), b.cols()) = a(i, j) * b;
  return r;
}

/// Dense full-space operators and states of one pure product component of the initial state.
struct ProductComponent {
  double weight = 1.0;          // prod_i w_i of the components picked
  std::vector<CMat> jm, jz;     // J_i^-, J_i^z on the tensor product of fixed-j Dicke spaces
  CMat rho, lrho;               // psi psi^+ and L[rho] = sum_c rate (L rho L^+ - {L^+ L, rho}/2)
};

/// Calls f(ProductComponent) for every combination of initial_components() (one per domain):
/// by linearity, an expectation value or its derivative is the weighted sum over the calls.
inline void for_each_product_component(const Model& model,
                                       const std::function<void(const ProductComponent&)>& f) {
  const int m = model.num_domains();
  std::vector<std::vector<qtraj::DomainComponent>> comps(m);
  for (int i = 0; i < m; ++i)
    comps[i] = qtraj::initial_components(model.initial[i], model.spins[i]);
  const auto channels = qtraj::collapse_channels(model);

  std::vector<int> pick(m, 0);
  std::function<void(int)> recurse = [&](int d) {
    if (d < m) {
      for (std::size_t c = 0; c < comps[d].size(); ++c) {
        pick[d] = static_cast<int>(c);
        recurse(d + 1);
      }
      return;
    }
    // One pure product state psi = (x)_i amplitudes of component pick[i], weight prod w_i.
    ProductComponent pc;
    std::vector<CMat> jm_single(m), jz_single(m);
    Eigen::VectorXcd psi = Eigen::VectorXcd::Ones(1);
    for (int i = 0; i < m; ++i) {
      const auto& comp = comps[i][pick[i]];
      pc.weight *= comp.weight;
      const int dim = comp.two_j + 1;
      jm_single[i] = CMat::Zero(dim, dim);
      jz_single[i] = CMat::Zero(dim, dim);
      for (int k = 0; k < dim; ++k) {
        jz_single[i](k, k) = k - comp.two_j / 2.0;  // J^z |k> = (k - j)|k>
        if (k > 0) jm_single[i](k - 1, k) = std::sqrt(double(k) * (comp.two_j - k + 1));
      }
      Eigen::VectorXcd a(dim);
      for (int k = 0; k < dim; ++k) a[k] = comp.amplitudes[k];
      psi = kron(CMat(psi), CMat(a)).col(0);
    }
    const Eigen::Index dim = psi.size();
    pc.jm.resize(m);
    pc.jz.resize(m);
    for (int i = 0; i < m; ++i) {
      CMat left = CMat::Identity(1, 1), right = CMat::Identity(1, 1);
      for (int l = 0; l < i; ++l)
        left = kron(left, CMat::Identity(jm_single[l].rows(), jm_single[l].rows()));
      for (int l = i + 1; l < m; ++l)
        right = kron(right, CMat::Identity(jm_single[l].rows(), jm_single[l].rows()));
      pc.jm[i] = kron(kron(left, jm_single[i]), right);
      pc.jz[i] = kron(kron(left, jz_single[i]), right);
    }
    pc.rho = psi * psi.adjoint();
    pc.lrho = CMat::Zero(dim, dim);
    for (const auto& ch : channels) {
      CMat l = CMat::Zero(dim, dim);
      for (int i : ch.domains) l += ch.raising ? CMat(pc.jm[i].adjoint()) : pc.jm[i];
      const CMat ld = l.adjoint();
      pc.lrho += ch.rate * (l * pc.rho * ld - 0.5 * (ld * l * pc.rho + pc.rho * ld * l));
    }
    f(pc);
  };
  recurse(0);
}

struct ExactMoments {
  Moments value, derivative;
};

inline ExactMoments exact_moments(const Model& model) {
  const int m = model.num_domains();
  ExactMoments out;
  for (Moments* x : {&out.value, &out.derivative}) {
    x->z.assign(m, 0.0);
    x->c.assign(m * m, 0.0);
    x->jminus.assign(m, 0.0);
  }
  for_each_product_component(model, [&](const ProductComponent& pc) {
    const double weight = pc.weight;
    for (int i = 0; i < m; ++i) {
      out.value.z[i] += weight * (pc.jz[i] * pc.rho).trace().real();
      out.derivative.z[i] += weight * (pc.jz[i] * pc.lrho).trace().real();
      out.value.jminus[i] += weight * (pc.jm[i] * pc.rho).trace();
      out.derivative.jminus[i] += weight * (pc.jm[i] * pc.lrho).trace();
      for (int k = 0; k < m; ++k) {
        const CMat a = pc.jm[i].adjoint() * pc.jm[k];  // J_i^+ J_k^-
        out.value.C(i, k) += weight * (a * pc.rho).trace();
        out.derivative.C(i, k) += weight * (a * pc.lrho).trace();
      }
    }
  });
  return out;
}

// max |a - b| over all z and C entries, relative to the largest |b| entry of each kind.
inline double max_rel_diff(const Moments& a, const Moments& b, bool only_z = false) {
  double dz = 0, sz = 1e-300, dc = 0, sc = 1e-300;
  for (std::size_t i = 0; i < a.z.size(); ++i) {
    dz = std::max(dz, std::abs(a.z[i] - b.z[i]));
    sz = std::max(sz, std::abs(b.z[i]));
  }
  for (std::size_t i = 0; i < a.c.size(); ++i) {
    dc = std::max(dc, std::abs(a.c[i] - b.c[i]));
    sc = std::max(sc, std::abs(b.c[i]));
  }
  // Scales of zero (e.g. a ground state) compare absolutely.
  const double rz = dz / std::max(sz, 1.0), rc = dc / std::max(sc, 1.0);
  return only_z ? rz : std::max(rz, rc);
}

struct DerivativeCase {
  std::vector<long long> n;
  std::vector<std::string> init;
  std::vector<Reservoir> reservoirs;
};

// Initial states that are J_i^z eigenstates (excited, ground, dicke, product, and mixtures of
// them) have vanishing third cumulants of J_i^z-symmetrised products, <J_i^z> <X> = <J_i^z X>,
// so the closure is exact at t = 0: the cumulant derivative equals the master-equation one.
// With nbar > 0 the closure <J_i^z J_k^z> = z_i z_k (i != k) is also exact for product states.
inline std::vector<DerivativeCase> z_eigenstate_cases() {
  return {
      {{1, 1}, {"excited", "ground"}, {}},
      {{1, 1}, {"excited", "excited"}, {}},
      {{3, 2}, {"excited", "ground"}, {}},
      {{4, 2}, {"dicke 2", "dicke 1"}, {}},
      {{4, 3, 2}, {"excited", "product 1", "ground"}, {}},
      {{5, 3, 2}, {"product 2", "dicke 1", "excited"}, {{{0, 1}, 1.0, 0.3}, {{1, 2}, 0.7, 0.0}}},
      // a ring with a three-domain reservoir, thermal
      {{3, 2, 2},
       {"product 2", "excited", "dicke 1"},
       {{{0, 1, 2}, 0.5, 0.4}, {{0, 2}, 1.3, 1.1}, {{1, 2}, 0.9, 0.0}}},
      // a single domain on its own reservoir, thermal
      {{6}, {"dicke 3"}, {{{0}, 1.0, 0.25}}},
  };
}

}  // namespace qtraj_test_meanfield
