#pragma once
// Host launchers of the Krylov-propagator trajectory kernel (docs/krylov.md, "CUDA"): the same
// one-trajectory-per-block kernel as trajectory_kernel.cu, with KrylovPropagator
// (include/qtraj/trajectory/krylov_propagator.hpp) run unchanged by the block team. Kept in its
// own translation unit so its register use and launch limits are its own.
//
// Workspace per block: workspace_doubles<KrylovPropagator>(max_dim, C) = 6 d + 2 (m + 1) d
// + (m + 1)^2 + 8 (m + 1) + C doubles with m = kKrylovMaxBasis = 40, i.e. ~88 d doubles: shared
// memory for small sectors (d <~ 300 on an H100's 227 KiB), a per-block slice of the global
// scratch otherwise ((2000,200,20): d = 4221, 2.97 MB per block). The runner decides
// (TrajectoryBatchRunner::Impl::configure, WorkspacePlacement).
#include <cuda_runtime.h>

#include <cstddef>

#include "qtraj/trajectory/krylov_propagator.hpp"
#include "trajectory_batch.cuh"

namespace qtraj::cuda {

/// The Krylov kernel, for cudaFuncGetAttributes / cudaFuncSetAttribute / occupancy queries
/// (trajectory_kernel.cu's kind-based functions reach it through this).
const void* gpu_krylov_kernel();

/// Launches the Krylov kernel with `prototype` (each block runs its own copy).
cudaError_t gpu_run_trajectories_krylov(const TrajectoryBatchArgs& args,
                                        const trajectory::KrylovPropagator& prototype,
                                        int grid_size, int block_size, std::size_t shared_bytes,
                                        cudaStream_t stream);

}  // namespace qtraj::cuda
