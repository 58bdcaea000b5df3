#pragma once
// Run configurations of the exact solver's tests (tests/exact/*_test.cpp).
#include <string>
#include <utility>
#include <vector>

#include "qtraj/model/model.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj::test_exact {

/// Exact solver, tight tolerances (rtol 1e-11, atol 1e-13), linear grid 0..times.back() with
/// times.size() points.
inline RunConfig make_config(std::vector<long long> spins, std::vector<std::string> initial,
                      std::vector<Reservoir> reservoirs, std::vector<double> times) {
  RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(InitialState::parse(initial[i], spins[i], "test"));
  c.model.reservoirs = std::move(reservoirs);
  c.time.end = times.back();
  c.time.points = static_cast<int>(times.size());
  c.solver.kind = "exact";
  c.solver.rtol = 1e-11;
  c.solver.atol = 1e-13;
  return c;
}

// Linear grid 0..t_end with `points` points.
inline RunConfig make_linear(std::vector<long long> spins, std::vector<std::string> initial,
                      std::vector<Reservoir> reservoirs, double t_end, int points) {
  RunConfig c = make_config(spins, initial, reservoirs, {t_end});
  c.time.points = points;
  return c;
}

/// Nearest-neighbour chain of m domains, one reservoir per pair.
inline std::vector<Reservoir> chain(int m, double gamma = 1.0, double nbar = 0.0) {
  std::vector<Reservoir> r;
  for (int i = 0; i + 1 < m; ++i) r.push_back(Reservoir{{i, i + 1}, gamma, nbar});
  return r;
}

}  // namespace qtraj::test_exact
