#pragma once
// Normal-ordered polynomials in the collective spin operators of M domains, for generating
// Heisenberg equations of moments symbolically (the `fourth_order` closure, docs/meanfield.md
// section 3.3). One domain's factor is a word (J^+)^a (J^z)^b (J^-)^c ("normal order": J^+
// left, J^- right); operators of different domains commute. Products are brought back to normal
// order with the exact commutators
//   J^z J^+ = J^+ J^z + J^+,   J^- J^z = J^z J^- + J^-,   J^- J^+ = J^+ J^- - 2 J^z.
#include <map>
#include <utility>
#include <vector>

namespace qtraj {
namespace meanfield {

/// (J^+)^a (J^z)^b (J^-)^c of one domain.
struct Word {
  int a = 0, b = 0, c = 0;
  int letters() const { return a + b + c; }
  int charge() const { return a - c; }  // J^z-raising minus lowering
  bool operator<(const Word& o) const {
    return a != o.a ? a < o.a : b != o.b ? b < o.b : c < o.c;
  }
  bool operator==(const Word& o) const { return a == o.a && b == o.b && c == o.c; }
};

/// A normal-ordered monomial: one word per domain (the empty word is the identity).
using Monomial = std::vector<Word>;
/// A real linear combination of monomials (every structure constant above is real).
using Operator = std::map<Monomial, double>;

/// The single operator J_d^+ (which = '+'), J_d^z ('z') or J_d^- ('-') among m domains.
Monomial letter(int num_domains, int domain, char which);
int letters(const Monomial& m);  // total number of J factors (the moment's order)
int charge(const Monomial& m);   // sum of a - c; <m> = 0 under U(1) symmetry unless 0
/// m^dagger, again normal ordered: word (a, b, c) -> (c, b, a).
Monomial adjoint(const Monomial& m);
/// The representative of {m, m^dagger} (the smaller one): for real states <m> = <m^dagger>.
Monomial canonical(const Monomial& m);

/// x y and [x, y] = x y - y x, in normal order.
Operator multiply(const Monomial& x, const Monomial& y);
Operator commutator(const Monomial& x, const Monomial& y);

/// The factors of m in order: (domain, '+' | 'z' | '-'), domains ascending, each domain's
/// letters in normal order.
std::vector<std::pair<int, char>> factors(const Monomial& m);
/// The monomial formed by the factors whose positions (into factors(m)) are listed, in
/// order. Any subsequence of a normal-ordered word is normal ordered, so no reordering.
Monomial sub_monomial(const Monomial& m, const std::vector<int>& positions);

/// All set partitions of {0, .., n-1} (restricted growth strings); each partition is a list
/// of blocks, each block ascending.
std::vector<std::vector<std::vector<int>>> set_partitions(int n);

}  // namespace meanfield
}  // namespace qtraj
