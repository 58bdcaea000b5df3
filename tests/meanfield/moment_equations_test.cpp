// The generated cumulant hierarchy (MomentEquations; solver.closure = "fourth_order" is order 4,
// docs/meanfield.md section 3.3): the symbolic Heisenberg equations against the Lindblad form on
// Dicke-basis matrices for every moment kept, the exact initial moments, the cumulant rule
// (against a hand derivation and against factorising product states), coherent states refused.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "meanfield/reference_moments.hpp"
#include "qtraj/error.hpp"
#include "qtraj/meanfield/moment_equations.hpp"
#include "qtraj/meanfield/spin_algebra.hpp"

namespace {

using namespace qtraj_test_meanfield;
using qtraj::meanfield::MomentEquations;
using qtraj::meanfield::Monomial;
using qtraj::meanfield::Operator;

// <m> and Tr(m L[rho]) for each monomial, from dense matrices (as exact_moments does for z, C).
struct Exact {
  std::vector<std::complex<double>> value, derivative;
};
Exact exact_monomials(const Model& model, const std::vector<Monomial>& monos) {
  const int m = model.num_domains();
  Exact out;
  out.value.assign(monos.size(), 0.0);
  out.derivative.assign(monos.size(), 0.0);
  for_each_product_component(model, [&](const ProductComponent& pc) {
    const Eigen::Index dim = pc.rho.rows();
    for (std::size_t n = 0; n < monos.size(); ++n) {
      CMat op = CMat::Identity(dim, dim);
      for (int i = 0; i < m; ++i) {
        const auto& w = monos[n][i];
        const CMat jp = pc.jm[i].adjoint();
        for (int t = 0; t < w.a; ++t) op = op * jp;
        for (int t = 0; t < w.b; ++t) op = op * pc.jz[i];
        for (int t = 0; t < w.c; ++t) op = op * pc.jm[i];
      }
      out.value[n] += pc.weight * (op * pc.rho).trace();
      out.derivative[n] += pc.weight * (op * pc.lrho).trace();
    }
  });
  return out;
}

TEST(MomentHierarchy, HeisenbergEquationsMatchTheMasterEquation) {
  // For every moment kept, the symbolic equation before closure (normal ordered, up to
  // order + 1 factors) evaluated with exact moments equals Tr(m L[rho]): chains, a ring with a
  // three-domain reservoir, thermal reservoirs, mixed (`product K`) states; order 3 for all
  // cases, order 4 (the fourth_order closure's variables) for the first five.
  const auto cases = z_eigenstate_cases();
  for (std::size_t n = 0; n < cases.size() + 5; ++n) {
    const auto& c = cases[n % cases.size()];
    const int order = n < cases.size() ? 3 : 4;
    const Model model = make_model(c.n, c.init, c.reservoirs);
    const MomentEquations eq(model, order);
    std::vector<Monomial> monos;
    std::vector<Operator> rhs;
    for (const Monomial& v : eq.variables()) {
      rhs.push_back(eq.heisenberg(v));
      monos.push_back(v);
    }
    std::vector<Monomial> terms;
    for (const auto& op : rhs)
      for (const auto& [mono, coef] : op) terms.push_back(mono);
    const Exact lhs = exact_monomials(model, monos), parts = exact_monomials(model, terms);
    std::size_t t = 0;
    for (std::size_t v = 0; v < monos.size(); ++v) {
      std::complex<double> d = 0.0;
      for (const auto& [mono, coef] : rhs[v]) d += coef * parts.value[t++];
      const double scale = std::max(1.0, std::abs(lhs.derivative[v]));
      EXPECT_LT(std::abs(d - lhs.derivative[v]) / scale, 1e-12) << "N[0] = " << c.n[0] << ", variable " << v;
    }
  }
}

TEST(MomentHierarchy, InitialMomentsAndFirstDerivativesAreExact) {
  // Every variable starts at its exact value; dz/dt and dC/dt involve moments of at most three
  // factors, all variables, so at t = 0 they equal the master equation's to round-off (so are
  // the derivatives of the third moments under fourth_order).
  for (const auto& c : z_eigenstate_cases()) {
    const Model model = make_model(c.n, c.init, c.reservoirs);
    const MomentEquations eq(model, 4);
    const Eigen::VectorXd y0 = eq.initial_state();
    const Exact ex = exact_monomials(model, eq.variables());
    for (int v = 0; v < eq.size(); ++v)
      EXPECT_NEAR(y0[v] * eq.scale(v), ex.value[v].real(), 1e-9 * std::max(1.0, std::abs(ex.value[v])))
          << "N[0] = " << c.n[0] << ", variable " << v;
    Eigen::VectorXd dy;
    eq.rhs(y0, dy);
    const auto ref = exact_moments(model).derivative;
    const int m = model.num_domains();
    for (int i = 0; i < m; ++i) {
      EXPECT_NEAR(dy[eq.z_index(i)] * eq.scale(eq.z_index(i)), ref.z[i], 1e-12 * std::max(1.0, std::abs(ref.z[i])));
      for (int k = i; k < m; ++k) {
        const int v = eq.c_index(i, k);
        EXPECT_NEAR(dy[v] * eq.scale(v), ref.C(i, k).real(), 1e-12 * std::max(1.0, std::abs(ref.C(i, k))))
            << "N[0] = " << c.n[0] << ", C_" << i << k;
      }
    }
  }
}

TEST(MomentHierarchy, CumulantRuleFactorisesIndependentDomains) {
  // Across domains in a product state every joint cumulant of factors from different domains
  // vanishes, so the rule must return the exact product: <J_1^+ J_1^- J_2^z J_3^z> = C_11 z_2 z_3
  // (order 3: four factors closed), <J_1^z .. J_4^z> = z_1 z_2 z_3 z_4 (order 3) and
  // <J_1^+ J_1^z J_1^- J_2^z J_3^z> = D_1 z_2 z_3 (order 4: five factors closed).
  const Model model = make_model({5, 4, 3, 2}, {"dicke 3", "dicke 1", "product 2", "excited"});
  const double z[4] = {3 - 2.5, 1 - 2.0, 2 - 1.5, 1.0};
  const double c11 = 3.0 * (5 - 3 + 1), d1 = (z[0] - 1) * c11;
  // exact moments of the product state, per domain: z^b, and <J^+ (J^z)^b J^-> = (z - 1)^b C
  const auto moment = [&](const Monomial& m) {
    double v = 1.0;
    for (int i = 0; i < 4; ++i) {
      const auto& w = m[i];
      if (w.a != w.c || w.a > 1) return 0.0;
      v *= w.a == 0 ? std::pow(z[i], w.b) : std::pow(z[i] - 1, w.b) * (i == 0 ? c11 : 0.0);
    }
    return v;
  };
  Monomial a(4), b(4), e(4);
  a[0] = {1, 0, 1};
  a[1] = {0, 1, 0};
  a[2] = {0, 1, 0};
  for (int i = 0; i < 4; ++i) b[i] = {0, 1, 0};
  e[0] = {1, 1, 1};
  e[1] = {0, 1, 0};
  e[2] = {0, 1, 0};
  const MomentEquations eq3(model, 3), eq4(model, 4);
  EXPECT_NEAR(eq3.closed_value(a, moment), c11 * z[1] * z[2], 1e-12);
  EXPECT_NEAR(eq3.closed_value(b, moment), z[0] * z[1] * z[2] * z[3], 1e-12);
  EXPECT_NEAR(eq4.closed_value(e, moment), d1 * z[1] * z[2], 1e-12);
  // A charged moment vanishes; a kept moment is returned as it is.
  Monomial q(4);
  q[0] = {1, 1, 0};
  q[1] = {0, 1, 1};
  q[2] = {1, 0, 0};
  EXPECT_EQ(eq3.closed_value(q, moment), 0.0);
  EXPECT_NEAR(eq4.closed_value(a, moment), c11 * z[1] * z[2], 1e-12);
}

TEST(MomentHierarchy, SingleDomainThirdOrderEquationAgainstHandDerivation) {
  // One domain, L = J^-, rate 1, D = <J^+ J^z J^->, C = <J^+ J^->, Z2 = <(J^z)^2>:
  //   dD/dt = 1/2 < J^+ [D, J^-] + [J^+, D] J^- > = -<J^+J^+J^-J^-> + 2 <J^+ J^z J^z J^->
  // and with fourth cumulants set to zero (U(1): only blocks that pair J^+ with J^-)
  //   <J^+J^+J^-J^-> ~ 2 C^2,   <J^+ J^z J^z J^-> ~ 2 D z + C Z2 - 2 C z^2,
  // so dD/dt = -2 C^2 + 4 D z + 2 C Z2 - 4 C z^2 (docs/meanfield.md section 3.3).
  const Model model = make_model({6}, {"excited"}, {{{0}, 1.0, 0.0}});
  const MomentEquations eq(model, 3);
  Monomial dm(1), cm(1), z2m(1);
  dm[0] = {1, 1, 1};
  cm[0] = {1, 0, 1};
  z2m[0] = {0, 2, 0};
  const int iz = eq.z_index(0), ic = eq.index(cm), id = eq.index(dm), iz2 = eq.index(z2m);
  ASSERT_GE(id, 0);
  ASSERT_GE(iz2, 0);
  Eigen::VectorXd y(eq.size());
  for (int i = 0; i < y.size(); ++i) y[i] = 0.1 + 0.3 * std::sin(1.7 * i + 0.4);  // generic
  const double z = y[iz] * eq.scale(iz), c = y[ic] * eq.scale(ic), d = y[id] * eq.scale(id),
               z2 = y[iz2] * eq.scale(iz2);
  Eigen::VectorXd dy;
  eq.rhs(y, dy);
  const double expected = -2 * c * c + 4 * d * z + 2 * c * z2 - 4 * c * z * z;
  EXPECT_NEAR(dy[id] * eq.scale(id), expected, 1e-12 * std::abs(expected));
  // and the exact ones: dz/dt = -C, dC/dt = 2 D
  EXPECT_NEAR(dy[iz] * eq.scale(iz), -c, 1e-12 * std::abs(c));
  EXPECT_NEAR(dy[ic] * eq.scale(ic), 2 * d, 1e-12 * std::abs(d));
}

TEST(MomentHierarchy, CoherentStatesAreAnInputError) {
  const Model model = make_model({4, 2}, {"coherent 1.0 0.0", "ground"});
  try {
    MomentEquations eq(model, 4);
    ADD_FAILURE() << "accepted a coherent state";
  } catch (const qtraj::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("solver.closure"), std::string::npos) << e.what();
  }
}

}  // namespace
