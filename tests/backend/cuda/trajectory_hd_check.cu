// Compile check only (test-only, built with the CUDA tests, not into qtraj_core): instantiates the
// host-device trajectory math (include/qtraj/trajectory/) with a trivial one-thread device team,
// so nvcc compiles every QTRAJ_HD function for SerialTeam as well as for the backend's block team
// (kernels/trajectory_kernel.cu); this kernel is never launched.
#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::trajectory {
namespace {

__global__ void trajectory_hd_check_kernel(SystemView sys, double* d_work, double* d_obs,
                                           double* d_jump_time, int* d_jump_channel,
                                           int* d_channel_counts, const double* d_times,
                                           int num_times, const double* d_start_re,
                                           std::uint64_t seed, int adaptive) {
  SerialTeam team;
  PhiloxStream rng(seed, blockIdx.x);
  TrajectoryWorkspace ws = TrajectoryWorkspace::carve(d_work, sys.max_sector_dim, sys.num_channels);
  TrajectoryOutput out;
  out.times = d_times;
  out.num_times = num_times;
  out.obs = d_obs;
  out.jump_time = d_jump_time;
  out.jump_channel = d_jump_channel;
  out.jump_capacity = 16;
  out.channel_counts = d_channel_counts;
  TrajectoryStart start{0, d_start_re, d_start_re, false};
  if (adaptive) {
    AdaptivePropagator prop(1e-8, 1e-10);
    run_trajectory(team, sys, prop, rng, start, ws, out);
  } else {
    SpectralPropagator prop;
    run_trajectory(team, sys, prop, rng, start, ws, out);
  }
}

}  // namespace

/// Host-visible symbol so the kernel is not discarded; never called.
void* trajectory_hd_check_symbol() { return reinterpret_cast<void*>(&trajectory_hd_check_kernel); }

}  // namespace qtraj::trajectory
