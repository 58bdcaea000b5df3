// Model validation, collapse channels, the initial-state decomposition: docs/design.md section 2.
#include "qtraj/model/model.hpp"

#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "qtraj/error.hpp"

namespace qtraj {
namespace {

std::string quote(const std::string& s) { return "\"" + s + "\""; }

// log C(n, k) via lgamma; exact enough for weights (relative error ~1e-15 * log scale).
double log_binomial(long long n, long long k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

}  // namespace

InitialState InitialState::parse(const std::string& text, long long n_spins,
                                 const std::string& field) {
  std::istringstream in(text);
  std::string word;
  in >> word;
  InitialState s;
  auto read_int = [&](const char* what) {
    long long v;
    std::string rest;
    if (!(in >> v) || (in >> rest))
      throw InputError(field, quote(text), std::string("expected \"") + what + " K\" with integer K");
    if (v < 0 || v > n_spins)
      throw InputError(field, quote(text),
                       "K must lie in 0..N = " + std::to_string(n_spins));
    return v;
  };
  if (word == "excited" || word == "ground") {
    std::string rest;
    if (in >> rest) throw InputError(field, quote(text), "unexpected text after " + word);
    s.kind = word == "excited" ? Kind::excited : Kind::ground;
  } else if (word == "dicke") {
    s.kind = Kind::dicke;
    s.k = read_int("dicke");
  } else if (word == "product") {
    s.kind = Kind::product;
    s.k = read_int("product");
  } else if (word == "coherent") {
    s.kind = Kind::coherent;
    std::string rest;
    if (!(in >> s.theta >> s.phi) || (in >> rest) || !std::isfinite(s.theta) ||
        !std::isfinite(s.phi))
      throw InputError(field, quote(text), "expected \"coherent THETA PHI\" (radians)");
    s.phi = std::remainder(s.phi, 2 * M_PI);  // e^{i phi (N - k)} is 2 pi periodic in phi
  } else {
    throw InputError(field, quote(text),
                     "unknown initial state; use excited | ground | \"dicke K\" | \"product K\" | "
                     "\"coherent THETA PHI\"");
  }
  return s;
}

std::string InitialState::to_string() const {
  switch (kind) {
    case Kind::excited: return "excited";
    case Kind::ground: return "ground";
    case Kind::dicke: return "dicke " + std::to_string(k);
    case Kind::product: return "product " + std::to_string(k);
    case Kind::coherent: {
      std::ostringstream o;
      o.precision(17);
      o << "coherent " << theta << " " << phi;
      return o.str();
    }
  }
  return "?";
}

std::vector<Reservoir> Model::default_chain(int num_domains) {
  std::vector<Reservoir> chain;
  for (int r = 0; r + 1 < num_domains; ++r) chain.push_back(Reservoir{{r, r + 1}, 1.0, 0.0});
  return chain;
}

void Model::validate() const {
  if (spins.empty()) throw InputError("system.domains", "[]", "at least one domain is needed");
  for (std::size_t i = 0; i < spins.size(); ++i)
    if (spins[i] <= 0)
      throw InputError("system.domains[" + std::to_string(i + 1) + "]", std::to_string(spins[i]),
                       "the number of spins must be positive");
  if (initial.size() != spins.size())
    throw InputError("system.initial", std::to_string(initial.size()) + " entries",
                     "needs one entry per domain (" + std::to_string(spins.size()) + ")");
  for (std::size_t r = 0; r < reservoirs.size(); ++r) {
    const auto& res = reservoirs[r];
    const std::string f = "reservoir[" + std::to_string(r + 1) + "]";
    if (res.domains.empty()) throw InputError(f + ".domains", "[]", "names no domain");
    for (std::size_t a = 0; a < res.domains.size(); ++a) {
      int d = res.domains[a];
      if (d < 0 || d >= num_domains())
        throw InputError(f + ".domains", std::to_string(d + 1),
                         "no such domain (domains are 1.." + std::to_string(num_domains()) + ")");
      for (std::size_t b = 0; b < a; ++b)
        if (res.domains[b] == d)
          throw InputError(f + ".domains", std::to_string(d + 1), "domain listed twice");
    }
    if (!(res.gamma >= 0) || !std::isfinite(res.gamma))
      throw InputError(f + ".gamma", fmt::format("{}", res.gamma), "must be finite and >= 0");
    if (!(res.nbar >= 0) || !std::isfinite(res.nbar))
      throw InputError(f + ".nbar", fmt::format("{}", res.nbar), "must be finite and >= 0");
  }
  for (std::size_t k = 0; k < local.size(); ++k) {
    const auto& table = local[k];
    const std::string f = "local[" + std::to_string(k + 1) + "]";
    if (table.domains.empty()) throw InputError(f + ".domains", "[]", "names no domain");
    for (std::size_t a = 0; a < table.domains.size(); ++a) {
      const int d = table.domains[a];
      if (d < 0 || d >= num_domains())
        throw InputError(f + ".domains", std::to_string(d + 1),
                         "no such domain (domains are 1.." + std::to_string(num_domains()) + ")");
      for (std::size_t b = 0; b < a; ++b)
        if (table.domains[b] == d)
          throw InputError(f + ".domains", std::to_string(d + 1), "domain listed twice");
    }
    const std::pair<const char*, double> rates[] = {
        {"emission", table.emission}, {"pumping", table.pumping}, {"dephasing", table.dephasing}};
    for (const auto& [key, rate] : rates)
      if (!(rate >= 0) || !std::isfinite(rate))
        throw InputError(f + "." + key, fmt::format("{}", rate), "must be finite and >= 0");
  }
}

std::vector<LocalRates> Model::local_rates() const {
  std::vector<LocalRates> rates(spins.size());
  for (const auto& table : local) {
    for (int d : table.domains) {
      rates[d].emission += table.emission;
      rates[d].pumping += table.pumping;
      rates[d].dephasing += table.dephasing;
    }
  }
  return rates;
}

bool Model::has_local() const {
  for (const auto& r : local_rates())
    if (r.any()) return true;
  return false;
}

std::vector<Channel> collapse_channels(const Model& model) {
  const auto reservoirs = model.reservoirs.empty() ? Model::default_chain(model.num_domains())
                                                   : model.reservoirs;
  std::vector<Channel> channels;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t r = 0; r < reservoirs.size(); ++r) {
      const auto& res = reservoirs[r];
      const bool raising = pass == 1;
      const double rate = raising ? res.gamma * res.nbar : res.gamma * (res.nbar + 1.0);
      if (rate > 0.0) channels.push_back(Channel{static_cast<int>(r), raising, rate, res.domains});
    }
  }
  return channels;
}

void check_initial_state_size(const InitialState& state, long long n_spins) {
  if (n_spins > 100'000'000)
    throw InputError("system.domains", std::to_string(n_spins),
                     "too many spins for a Dicke-basis solver (use solver.kind = \"meanfield\")");
  // Dicke-basis storage of the components, refused before allocating: N + 1 amplitudes (the
  // solvers' Dicke dimension limit is 5e7 anyway), or for "product K" sum_j (2j + 1) =
  // (N/2 - |m| + 1)(N/2 + |m| + 1), stored densely: at most 2e8 complex numbers (3.2 GB).
  const double n = static_cast<double>(n_spins);
  const bool product = state.kind == InitialState::Kind::product;
  const double m_abs = product ? std::fabs(static_cast<double>(state.k) - n / 2) : n / 2;
  const double amplitudes = product ? (n / 2 - m_abs + 1) * (n / 2 + m_abs + 1) : n + 1;
  if (amplitudes > (product ? 2e8 : 5e7))
    throw InputError("system.domains", std::to_string(n_spins),
                     "too many spins for a Dicke-basis solver with initial state \"" +
                         state.to_string() + "\" (use solver.kind = \"meanfield\")");
}

std::vector<DomainComponent> initial_components(const InitialState& state, long long n_spins) {
  check_initial_state_size(state, n_spins);
  const int two_j_max = static_cast<int>(n_spins);
  auto basis_state = [&](int k) {
    DomainComponent c;
    c.two_j = two_j_max;
    c.amplitudes.assign(two_j_max + 1, 0.0);
    c.amplitudes[k] = 1.0;
    return std::vector<DomainComponent>{c};
  };
  using Kind = InitialState::Kind;
  switch (state.kind) {
    case Kind::excited: return basis_state(two_j_max);
    case Kind::ground: return basis_state(0);
    case Kind::dicke: return basis_state(static_cast<int>(state.k));
    case Kind::coherent: {
      // prod_spins (cos(t/2)|up> + e^{i phi} sin(t/2)|down>) = sum_k sqrt(C(N,k)) cos^k sin^(N-k)
      //   e^{i phi (N-k)} |j=N/2, k-N/2>. Amplitudes from logs to survive large N.
      DomainComponent c;
      c.two_j = two_j_max;
      c.amplitudes.assign(two_j_max + 1, 0.0);
      const double cs = std::cos(state.theta / 2), sn = std::sin(state.theta / 2);
      double norm = 0;
      for (int k = 0; k <= two_j_max; ++k) {
        const double pc = k == 0 ? 0.0 : (cs == 0 ? -INFINITY : k * std::log(std::abs(cs)));
        const double ps =
            k == two_j_max ? 0.0 : (sn == 0 ? -INFINITY : (two_j_max - k) * std::log(std::abs(sn)));
        double mag = std::exp(0.5 * log_binomial(n_spins, k) + pc + ps);
        if ((cs < 0 && k % 2) != (sn < 0 && (two_j_max - k) % 2)) mag = -mag;
        c.amplitudes[k] = std::polar(1.0, state.phi * (two_j_max - k)) * mag;
        norm += mag * mag;
      }
      for (auto& a : c.amplitudes) a /= std::sqrt(norm);
      return {c};
    }
    case Kind::product: {
      // K spins up: m = K - N/2; j runs over |m|..N/2 in integer steps, weight d_j / C(N, K),
      // d_j = C(N, N/2 - j) - C(N, N/2 - j - 1) (copies of spin j). In the spin-j space the state
      // |j, m> has k' = j + m = K - (N/2 - j) excitations.
      std::vector<DomainComponent> comps;
      const long long kk = state.k;
      const long long two_m = 2 * kk - n_spins;
      const double log_total = log_binomial(n_spins, kk);
      for (long long two_j = std::llabs(two_m); two_j <= n_spins; two_j += 2) {
        const long long a = (n_spins - two_j) / 2;  // N/2 - j
        const double c1 = std::exp(log_binomial(n_spins, a) - log_total);
        const double c0 = a >= 1 ? std::exp(log_binomial(n_spins, a - 1) - log_total) : 0.0;
        const double w = c1 - c0;
        if (w <= 0) continue;
        DomainComponent c;
        c.weight = w;
        c.two_j = static_cast<int>(two_j);
        c.amplitudes.assign(two_j + 1, 0.0);
        c.amplitudes[kk - a] = 1.0;
        comps.push_back(std::move(c));
      }
      return comps;
    }
  }
  return {};
}

}  // namespace qtraj
