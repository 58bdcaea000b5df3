#pragma once
// The per-trajectory body of the batch kernel, host-device and templated on the team, so that the
// CPU can run the exact code the kernel runs (tests/backend/cuda/trajectory_batch_body_test.cpp runs it
// with SerialTeam and ThreadTeam on host pointers; trajectory_kernel.cu with BlockTeam on device
// pointers). No CUDA runtime header: plain C++ includes this file too.
//
// Draws of trajectory t, identical to the CPU backend (src/backend/cpu_trajectories.cpp):
//   rng = PhiloxStream(seed, t); draw_components (M draws) -> bundle; draw_sector (1 draw);
//   run_trajectory (per jump: waiting-time draw, channel draw).
#include <cstdint>

#include "chunk_reduction.cuh"
#include "qtraj/hd.hpp"
#include "qtraj/trajectory/system_view.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::cuda {

/// Largest number of domains the kernel accepts (per-thread component choice array).
constexpr int kMaxKernelDomains = 64;

/// Written to d_jumps[r] when trajectory r drew a component choice that has no bundle (distinct from
/// run_trajectory's kTrajectoryIncomplete = -1, so the host can tell the two apart).
constexpr int kMissingBundle = -2;

/// One bundle: its SystemView, the sector probabilities p_n = ||P_n psi0||^2
/// (num_sectors = max_excitation + 1 values) and the sector-normalised initial state (dim values
/// each, global Dicke index; sector n starts at sector_begin[n]). Device pointers in the kernel.
struct DeviceBundle {
  trajectory::SystemView view;
  const double* sector_prob = nullptr;
  int num_sectors = 0;
  const double* start_re = nullptr;
  const double* start_im = nullptr;
  int complex_state = 0;
};

/// Everything a batch reads and writes (d_ = device pointers in the kernel; host pointers when
/// the body runs on the CPU in tests).
struct TrajectoryBatchArgs {
  // Bundles and how trajectories pick them (as draw_components + solve_trajectories do).
  const DeviceBundle* d_bundles = nullptr;
  const int* d_bundle_of_choice = nullptr;  // choice_key(choice) -> bundle index, or -1
  const double* d_weights = nullptr;        // component weights, all domains concatenated
  const int* d_weight_begin = nullptr;      // num_domains + 1
  int num_domains = 0;
  int num_channels = 0;
  int max_dim = 0;  // largest max_sector_dim over the bundles (workspace size)
  // Trajectory range and stream.
  std::uint64_t seed = 0;
  std::int64_t first = 0;
  std::int64_t count = 0;
  // Output grid and per-trajectory outputs (trajectory r = t - first).
  const double* d_times = nullptr;
  int num_times = 0;
  double* d_obs = nullptr;          // count x num_times x 2M
  int* d_jumps = nullptr;           // count
  int* d_channel_counts = nullptr;  // count x C
  double* d_jump_time = nullptr;    // rows x jump_capacity, rows >= min(count, record_end - first)
  int* d_jump_channel = nullptr;    // rows x jump_capacity
  int jump_capacity = 0;
  std::int64_t record_end = 0;  // t < record_end stores its first jump_capacity jumps
  // Per-reservoir jump counts (ensemble runs; nullptr: not written), reservoir-major:
  // d_reservoir_counts[res * count + r] (one contiguous row of samples per reservoir for CUB).
  const int* d_channel_reservoir = nullptr;  // C: reservoir of each channel
  int num_reservoirs = 0;
  int* d_reservoir_counts = nullptr;
  // Global workspace (nullptr: shared memory).
  double* d_scratch = nullptr;
  long long scratch_stride = 0;  // doubles per block
};

/// Mixed-radix key of a component choice, domain 0 most significant:
///   key = (...(c_0 r_1 + c_1) r_2 + ...) + c_{M-1},  r_i = weight_begin[i+1] - weight_begin[i].
/// Returns -1 if some c_i is out of range (sample_index found no positive weight).
QTRAJ_HD inline long long choice_key(const int* weight_begin, int num_domains, const int* choice) {
  long long key = 0;
  for (int i = 0; i < num_domains; ++i) {
    const int radix = weight_begin[i + 1] - weight_begin[i];
    if (choice[i] < 0 || choice[i] >= radix) return -1;
    key = key * radix + choice[i];
  }
  return key;
}

/// Runs trajectory t (first <= t < first + count) with the team and writes its outputs at
/// r = t - first. Every rank of the team calls it with the same t (all syncs match up).
template <class Team, class Propagator>
QTRAJ_HD void run_batch_trajectory(Team& team, const TrajectoryBatchArgs& args,
                                   const Propagator& prototype,
                                   const trajectory::TrajectoryWorkspace& ws, std::int64_t t) {
  const std::int64_t r = t - args.first;
  const int row_len = 2 * args.num_domains;
  trajectory::PhiloxStream rng(args.seed, static_cast<std::uint64_t>(t));  // per rank, same draws
  int comp[kMaxKernelDomains];
  trajectory::draw_components(rng, args.num_domains, args.d_weights, args.d_weight_begin, comp);
  const long long key = choice_key(args.d_weight_begin, args.num_domains, comp);
  const int b = key >= 0 ? args.d_bundle_of_choice[key] : -1;
  if (b < 0) {  // team-uniform branch: no sync is skipped by only part of the team
    if (team.rank() == 0) args.d_jumps[r] = kMissingBundle;
    return;
  }
  const DeviceBundle& bundle = args.d_bundles[b];
  const trajectory::SystemView& sys = bundle.view;
  const int n = trajectory::draw_sector(rng, bundle.sector_prob, bundle.num_sectors);
  const std::int64_t begin = sys.sector_begin[n];
  const trajectory::TrajectoryStart start{n, bundle.start_re + begin, bundle.start_im + begin,
                                          bundle.complex_state != 0};

  trajectory::TrajectoryOutput out;
  out.times = args.d_times;
  out.num_times = args.num_times;
  out.obs = args.d_obs + r * args.num_times * row_len;
  const bool recorded = t < args.record_end && args.jump_capacity > 0;
  out.jump_capacity = recorded ? args.jump_capacity : 0;
  out.jump_time = recorded ? args.d_jump_time + r * args.jump_capacity : nullptr;
  out.jump_channel = recorded ? args.d_jump_channel + r * args.jump_capacity : nullptr;
  out.channel_counts = args.d_channel_counts + r * args.num_channels;

  Propagator prop = prototype;
  const int jumps = trajectory::run_trajectory(team, sys, prop, rng, start, ws, out);
  if (team.rank() == 0) {
    args.d_jumps[r] = jumps;
    if (args.d_reservoir_counts != nullptr)
      reservoir_jump_counts(out.channel_counts, args.d_channel_reservoir, args.num_channels,
                            args.num_reservoirs, args.d_reservoir_counts + r, args.count);
  }
  // run_trajectory ends with team.sync(): the workspace is free for the next trajectory.
}

}  // namespace qtraj::cuda
