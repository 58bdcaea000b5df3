// Normal ordering of collective spin words (include/qtraj/meanfield/spin_algebra.hpp).
#include "qtraj/meanfield/spin_algebra.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace qtraj {
namespace meanfield {
namespace {

int rank(char x) { return x == '+' ? 0 : x == 'z' ? 1 : 2; }

// A string of one domain's letters, rewritten into normal order with the three commutators:
// the first out-of-order adjacent pair is replaced, recursively (strings here have <= 8
// letters, each rewrite either sorts a pair or removes a letter, so this terminates).
void normal_order(const std::string& s, double coef, std::map<Word, double>& out) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const char x = s[i], y = s[i + 1];
    if (rank(x) <= rank(y)) continue;
    const std::string pre = s.substr(0, i), post = s.substr(i + 2);
    if (x == 'z' && y == '+') {  // J^z J^+ = J^+ J^z + J^+
      normal_order(pre + "+z" + post, coef, out);
      normal_order(pre + "+" + post, coef, out);
    } else if (x == '-' && y == 'z') {  // J^- J^z = J^z J^- + J^-
      normal_order(pre + "z-" + post, coef, out);
      normal_order(pre + "-" + post, coef, out);
    } else {  // J^- J^+ = J^+ J^- - 2 J^z
      normal_order(pre + "+-" + post, coef, out);
      normal_order(pre + "z" + post, -2 * coef, out);
    }
    return;
  }
  Word w;
  for (char x : s) (x == '+' ? w.a : x == 'z' ? w.b : w.c) += 1;
  out[w] += coef;
}

std::string spell(const Word& w) {
  return std::string(w.a, '+') + std::string(w.b, 'z') + std::string(w.c, '-');
}

}  // namespace

Monomial letter(int num_domains, int domain, char which) {
  Monomial m(num_domains);
  Word& w = m.at(domain);
  if (which == '+') w.a = 1;
  else if (which == 'z') w.b = 1;
  else if (which == '-') w.c = 1;
  else throw std::invalid_argument("letter: which must be '+', 'z' or '-'");
  return m;
}

int letters(const Monomial& m) {
  int n = 0;
  for (const Word& w : m) n += w.letters();
  return n;
}

int charge(const Monomial& m) {
  int q = 0;
  for (const Word& w : m) q += w.charge();
  return q;
}

Monomial adjoint(const Monomial& m) {
  Monomial r = m;
  for (Word& w : r) std::swap(w.a, w.c);
  return r;
}

Monomial canonical(const Monomial& m) {
  const Monomial d = adjoint(m);
  return d < m ? d : m;
}

Operator multiply(const Monomial& x, const Monomial& y) {
  Operator result{{Monomial(x.size()), 1.0}};
  for (std::size_t d = 0; d < x.size(); ++d) {
    std::map<Word, double> words;
    normal_order(spell(x[d]) + spell(y[d]), 1.0, words);
    Operator next;
    for (const auto& [mono, c] : result)
      for (const auto& [w, cw] : words) {
        if (cw == 0.0) continue;
        Monomial m = mono;
        m[d] = w;
        next[m] += c * cw;
      }
    result.swap(next);
  }
  return result;
}

Operator commutator(const Monomial& x, const Monomial& y) {
  Operator r = multiply(x, y);
  for (const auto& [m, c] : multiply(y, x)) r[m] -= c;
  for (auto it = r.begin(); it != r.end();) it = it->second == 0.0 ? r.erase(it) : std::next(it);
  return r;
}

std::vector<std::pair<int, char>> factors(const Monomial& m) {
  std::vector<std::pair<int, char>> f;
  for (std::size_t d = 0; d < m.size(); ++d)
    for (char x : spell(m[d])) f.emplace_back(static_cast<int>(d), x);
  return f;
}

Monomial sub_monomial(const Monomial& m, const std::vector<int>& positions) {
  const auto f = factors(m);
  Monomial r(m.size());
  for (int p : positions) {
    Word& w = r[f.at(p).first];
    (f[p].second == '+' ? w.a : f[p].second == 'z' ? w.b : w.c) += 1;
  }
  return r;
}

std::vector<std::vector<std::vector<int>>> set_partitions(int n) {
  std::vector<std::vector<std::vector<int>>> all;
  if (n <= 0) return {{}};
  std::vector<int> block(n, 0);  // restricted growth string: block[0] = 0, block[i] <= max + 1
  while (true) {
    int blocks = 0;
    for (int b : block) blocks = std::max(blocks, b + 1);
    std::vector<std::vector<int>> p(blocks);
    for (int i = 0; i < n; ++i) p[block[i]].push_back(i);
    all.push_back(std::move(p));
    // next restricted growth string
    int i = n - 1;
    for (; i > 0; --i) {
      int prefix_max = 0;
      for (int j = 0; j < i; ++j) prefix_max = std::max(prefix_max, block[j]);
      if (block[i] <= prefix_max) {
        ++block[i];
        for (int j = i + 1; j < n; ++j) block[j] = 0;
        break;
      }
    }
    if (i == 0) break;
  }
  return all;
}

}  // namespace meanfield
}  // namespace qtraj
