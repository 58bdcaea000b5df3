#pragma once
// The trajectory benchmarks' run: N = spins, first domain excited, the default chain, t = 0..100
// on 201 points, seed 1. Shared by bench/bench_trajectories.cpp and bench/cuda/.
#include <string>
#include <vector>

#include "qtraj/model/model.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj::bench {

inline RunConfig trajectory_config(const std::vector<long long>& spins, std::int64_t trajectories,
                                   int threads, const std::string& propagator = "spectral") {
  RunConfig c;
  c.model.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    c.model.initial.push_back(InitialState::parse(i == 0 ? "excited" : "ground", spins[i], "bench"));
  c.time.end = 100.0;
  c.time.points = 201;
  c.solver.kind = "trajectories";
  c.solver.trajectories = trajectories;
  c.solver.seed = 1;
  c.solver.threads = threads;
  c.solver.propagator = propagator;
  return c;
}

/// The first initial component of every domain (the whole state for excited/ground domains), in
/// the form TrajectorySystem takes: `chosen` points into `all`, so the object is not copied.
struct FirstComponents {
  std::vector<std::vector<DomainComponent>> all;
  std::vector<const DomainComponent*> chosen;
  explicit FirstComponents(const Model& model) {
    for (int i = 0; i < model.num_domains(); ++i)
      all.push_back(initial_components(model.initial[i], model.spins[i]));
    for (const auto& c : all) chosen.push_back(&c[0]);
  }
  FirstComponents(const FirstComponents&) = delete;
  FirstComponents& operator=(const FirstComponents&) = delete;
};

}  // namespace qtraj::bench
