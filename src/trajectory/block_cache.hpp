#pragma once
// Internal to the trajectory solver: the bundles of the total-spin blocks b = (j_1..j_M) that
// trajectories with local processes hop into (docs/local.md, "Trajectories"). Keyed by the j
// vector, built on first entry (ladder tables, channels, the no-jump K with the local diagonal,
// per-sector eigensystems for the spectral propagator, sparse K for the adaptive one), then shared
// read-only by every worker thread. Each bundle depends on its j vector only, so results do not
// depend on which thread built it or when.
//
// Memory rule: bundles are never evicted (workers hold views into them); once the bundles built
// so far hold more than the budget (solver.memory_limit), the run stops with one line naming the
// budget and the propagator. The spectral and adaptive propagators use these bundles; Krylov
// trajectories use per-worker (block, sector) windows instead (src/trajectory/sector_window.hpp)
// and only record here which blocks they entered (enter()).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "qtraj/error.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/system.hpp"

namespace qtraj::backend {

class BlockCache {
 public:
  BlockCache(const Model& model, const std::vector<Channel>& channels,
             const std::vector<double>& local_rates, trajectory::PropagatorKind propagator,
             std::int64_t memory_limit, int setup_threads)
      : model_(model), channels_(channels), local_rates_(local_rates), propagator_(propagator),
        memory_limit_(memory_limit), setup_threads_(setup_threads) {}

  /// The bundle of block two_j (2 j_i per domain), built on first use (once, outside the map lock).
  const trajectory::TrajectorySystem& get(const std::vector<int>& two_j) {
    Entry* entry;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& slot = map_[two_j];
      if (!slot) slot = std::make_unique<Entry>();
      entry = slot.get();
    }
    std::call_once(entry->once, [&] {
      // The start state is never read (a hop re-expresses the trajectory's own state): the
      // ground state of each domain's spin stands in for it.
      std::vector<DomainComponent> ground(two_j.size());
      std::vector<const DomainComponent*> chosen;
      for (std::size_t i = 0; i < two_j.size(); ++i) {
        ground[i].two_j = two_j[i];
        ground[i].amplitudes.assign(two_j[i] + 1, 0.0);
        ground[i].amplitudes[0] = 1.0;
        chosen.push_back(&ground[i]);
      }
      const int concurrent = ++building_;
      const int threads = std::max(1, setup_threads_ / concurrent);
      try {
        entry->system = std::make_unique<trajectory::TrajectorySystem>(
            model_, channels_, chosen, propagator_, threads, trajectory::SectorEigensolver{},
            &local_rates_);
      } catch (...) {
        --building_;
        throw;
      }
      --building_;
      const std::int64_t held = bytes_ += entry->system->bytes();
      if (held > memory_limit_)
        throw Error(fmt::format(
            "trajectories: the {} total-spin blocks entered so far hold {} bytes, more than "
            "solver.memory_limit = {} bytes with the {} propagator; raise the limit or use "
            "solver.propagator = \"krylov\" (the leanest blocks)",
            ++blocks_, held, memory_limit_, trajectory::propagator_name(propagator_)));
      ++blocks_;
      entry->done = true;
    });
    if (!entry->system)
      throw Error("trajectories: a total-spin block's set-up failed in another thread");
    return *entry->system;
  }
  /// True if block two_j's bundle exists (get() returns at once).
  bool built(const std::vector<int>& two_j) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = map_.find(two_j);
    return it != map_.end() && it->second->done;
  }
  /// Records that a trajectory entered block two_j without building its bundle (the Krylov
  /// propagator's windows); each block counts once in blocks().
  void enter(const std::vector<int>& two_j) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entered_.insert(two_j).second) ++blocks_;
  }
  /// Blocks built (or, with windows, entered) so far.
  int blocks() const { return blocks_; }

 private:
  const Model& model_;
  const std::vector<Channel>& channels_;
  const std::vector<double>& local_rates_;
  trajectory::PropagatorKind propagator_;
  std::int64_t memory_limit_;
  int setup_threads_;
  std::atomic<int> building_{0};
  std::atomic<std::int64_t> bytes_{0};
  std::atomic<int> blocks_{0};
  struct Entry {
    std::once_flag once;
    std::unique_ptr<trajectory::TrajectorySystem> system;
    std::atomic<bool> done{false};  // system set (built())
  };
  std::mutex mutex_;
  std::map<std::vector<int>, std::unique_ptr<Entry>> map_;
  std::set<std::vector<int>> entered_;  // enter()'s blocks
};

}  // namespace qtraj::backend
