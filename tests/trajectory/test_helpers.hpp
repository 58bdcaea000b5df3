#pragma once
// Shared helpers of the trajectory tests: build a bundle for a model and run single trajectories
// with any team and propagator.
#include <memory>
#include <vector>

#include "qtraj/model/model.hpp"
#include "qtraj/model/sector_operators.hpp"
#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/krylov_propagator.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::trajectory::testing {

inline Model make_model(std::vector<long long> spins, std::vector<std::string> initial,
                        double nbar = 0.0) {
  Model m;
  m.spins = spins;
  for (std::size_t i = 0; i < spins.size(); ++i)
    m.initial.push_back(InitialState::parse(initial[i], spins[i], "test"));
  m.reservoirs = Model::default_chain(m.num_domains());
  for (auto& r : m.reservoirs) r.nbar = nbar;
  return m;
}

/// Every domain's initial components, and the first of each (the bundle most tests run).
struct FirstComponents {
  std::vector<std::vector<DomainComponent>> all;
  std::vector<const DomainComponent*> chosen;  // &all[i][0]: stays valid when moved
  explicit FirstComponents(const Model& model) {
    for (int i = 0; i < model.num_domains(); ++i)
      all.push_back(initial_components(model.initial[i], model.spins[i]));
    for (const auto& c : all) chosen.push_back(&c[0]);
  }
  FirstComponents(FirstComponents&&) = default;
  FirstComponents& operator=(FirstComponents&&) = default;
  FirstComponents(const FirstComponents&) = delete;
  FirstComponents& operator=(const FirstComponents&) = delete;
};

/// A model with its channels and the bundle of its first components.
struct Fixture {
  Model model;
  std::vector<Channel> channels;
  FirstComponents components;
  std::unique_ptr<TrajectorySystem> system;
  std::vector<double> times;

  Fixture(Model m, std::vector<double> grid, bool spectral = true, bool adaptive = true)
      : model(std::move(m)), channels(collapse_channels(model)), components(model),
        times(std::move(grid)) {
    system = std::make_unique<TrajectorySystem>(model, channels, components.chosen, spectral,
                                                adaptive);
  }
};

struct OneTrajectory {
  std::vector<double> obs;
  std::vector<double> jump_time;
  std::vector<int> jump_channel;
  std::vector<int> channel_counts;
  int jumps = 0;
};

/// Propagator scratch big enough for every propagator (adaptive 20 d, Krylov ~82 d).
inline long long test_scratch(int max_dim) {
  const long long a = AdaptivePropagator::scratch_doubles(max_dim);
  const long long k = KrylovPropagator::scratch_doubles(max_dim);
  return a > k ? a : k;
}

/// Shared buffers of one trajectory run by a team (workspace carved for any propagator, the
/// Krylov region included).
struct SharedRun {
  std::vector<double> work;
  OneTrajectory result;
  SharedRun(const Fixture& f, int capacity) {
    const auto& v = f.system->view();
    work.assign(
        TrajectoryWorkspace::doubles_needed(v.max_sector_dim, v.num_channels,
                                            test_scratch(v.max_sector_dim)),
        0.0);
    result.obs.assign(f.times.size() * 2 * v.num_domains, -99.0);
    result.jump_time.assign(capacity, 0.0);
    result.jump_channel.assign(capacity, -1);
    result.channel_counts.assign(v.num_channels, 0);
  }
  /// The TrajectoryOutput that writes into these buffers.
  TrajectoryOutput output(const std::vector<double>& times) {
    TrajectoryOutput out;
    out.times = times.data();
    out.num_times = static_cast<int>(times.size());
    out.obs = result.obs.data();
    out.jump_time = result.jump_time.data();
    out.jump_channel = result.jump_channel.data();
    out.jump_capacity = static_cast<int>(result.jump_time.size());
    out.channel_counts = result.channel_counts.data();
    return out;
  }
};

/// Runs trajectory `index` (seed `seed`) with `team` and propagator `prop`, sector drawn as the
/// solver does.
template <class Team, class Propagator>
void run_with(Team& team, const Fixture& f, SharedRun& run, std::uint64_t seed,
              std::uint64_t index, Propagator& prop) {
  const auto& sys = f.system->view();
  PhiloxStream rng(seed, index);
  for (int i = 0; i < sys.num_domains; ++i) rng.uniform();  // component draws (one component)
  const auto& p = f.system->sector_probability();
  const int n = draw_sector(rng, p.data(), static_cast<int>(p.size()));
  TrajectoryStart start{n, f.system->start_re(n), f.system->start_im(n),
                        f.system->complex_state()};
  TrajectoryWorkspace ws = TrajectoryWorkspace::carve(run.work.data(), sys.max_sector_dim,
                                                      sys.num_channels, test_scratch(sys.max_sector_dim));
  TrajectoryOutput out = run.output(f.times);
  const int jumps = run_trajectory(team, sys, prop, rng, start, ws, out);
  if (team.rank() == 0) run.result.jumps = jumps;
}

/// run_with the spectral (adaptive = false) or the adaptive propagator.
template <class Team>
void run_one(Team& team, const Fixture& f, SharedRun& run, std::uint64_t seed, std::uint64_t index,
             bool adaptive, double rtol = 1e-10, double atol = 1e-12) {
  if (adaptive) {
    AdaptivePropagator prop(rtol, atol);
    run_with(team, f, run, seed, index, prop);
  } else {
    SpectralPropagator prop;
    run_with(team, f, run, seed, index, prop);
  }
}

/// run_with the Krylov propagator.
template <class Team>
void run_krylov(Team& team, const Fixture& f, SharedRun& run, std::uint64_t seed,
                std::uint64_t index, double rtol, double atol, int basis = kKrylovMaxBasis) {
  KrylovPropagator prop(rtol, atol, basis);
  run_with(team, f, run, seed, index, prop);
}

inline std::vector<double> linear_grid(double end, int points) {
  std::vector<double> t(points);
  for (int i = 0; i < points; ++i) t[i] = end * i / (points - 1);
  return t;
}

}  // namespace qtraj::trajectory::testing
