#pragma once
// The body of every trajectory kernel (trajectory_kernel.cu, krylov_kernel.cu): one trajectory per
// thread block, block b running trajectories first + b, first + b + gridDim.x, ...; its workspace
// is a slice of the global scratch (args.d_scratch) or the dynamic shared memory, carved with
// workspace_doubles<Propagator> exactly as the host sized it. The per-trajectory body
// (draws identical to the CPU backend) is run_batch_trajectory, trajectory_batch.cuh.
#include <cuda_runtime.h>

#include "block_team.cuh"
#include "trajectory_batch.cuh"

namespace qtraj::cuda {

template <class Propagator>
__device__ __forceinline__ void run_block_trajectories(const TrajectoryBatchArgs& args,
                                                       const Propagator& prototype) {
  extern __shared__ double shared_workspace[];
  __shared__ BlockTeam::TempStorage team_storage;
  BlockTeam team(team_storage);

  double* base = args.d_scratch != nullptr ? args.d_scratch + blockIdx.x * args.scratch_stride
                                           : shared_workspace;
  // Sized per propagator (e.g. spectral 8 d + C doubles, adaptive 26 d + C): the host's scratch_stride
  // and shared_bytes use the same workspace_doubles<Propagator>.
  const trajectory::TrajectoryWorkspace ws =
      trajectory::carve_workspace<Propagator>(base, args.max_dim, args.num_channels);
  const std::int64_t end = args.first + args.count;
  // Every thread walks the same t sequence, so all block-level syncs inside match up.
  for (std::int64_t t = args.first + blockIdx.x; t < end; t += gridDim.x)
    run_batch_trajectory(team, args, prototype, ws, t);
}

}  // namespace qtraj::cuda
