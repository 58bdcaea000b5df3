#pragma once
// Host launchers of the trajectory kernels (HOOMD style: gpu_... launches ..._kernel, returns the
// launch's cudaError_t = cudaPeekAtLastError()). The kernels live in trajectory_kernel.cu.
//
// One trajectory per thread block (BlockTeam, block_team.cuh), grid-stride over trajectories:
//   for (t = first + blockIdx.x; t < first + count; t += gridDim.x)
// Each block's TrajectoryWorkspace is `extern __shared__` memory (shared_bytes =
// doubles_needed(max_dim, C) * 8) or, when d_scratch != nullptr, the slice
// d_scratch + blockIdx.x * scratch_stride of a global buffer (then shared_bytes = 0).
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "qtraj/trajectory/propagators.hpp"
#include "trajectory_batch.cuh"

namespace qtraj::cuda {

/// The kernel of propagator `kind` (trajectory::with_propagator picks it; the Krylov one lives in
/// krylov_kernel.cu). Its attributes (sharedSizeBytes = its static shared memory,
/// BlockTeam::TempStorage, which counts against the opt-in shared memory budget; localSizeBytes;
/// numRegs).
cudaError_t gpu_trajectory_kernel_attributes(trajectory::PropagatorKind kind,
                                             cudaFuncAttributes* attr);

/// Raises the kernel's dynamic shared memory limit to `bytes` (cudaFuncSetAttribute).
cudaError_t gpu_set_trajectory_shared_limit(trajectory::PropagatorKind kind, int bytes);

/// Resident blocks per SM for this block size and dynamic shared memory.
cudaError_t gpu_trajectory_occupancy(trajectory::PropagatorKind kind, int block_size,
                                     std::size_t shared_bytes, int* blocks_per_sm);

/// Launches the kernel of `kind` with the propagator made from `params` (with_propagator).
cudaError_t gpu_run_trajectories(trajectory::PropagatorKind kind,
                                 const trajectory::PropagatorParams& params,
                                 const TrajectoryBatchArgs& args, int grid_size, int block_size,
                                 std::size_t shared_bytes, cudaStream_t stream);

}  // namespace qtraj::cuda
