// The Krylov-propagator trajectory kernel (krylov_kernel.cuh): one trajectory per thread block,
// run_batch_trajectory (trajectory_batch.cuh) with KrylovPropagator and team = BlockTeam, exactly
// the body the CPU tests run with SerialTeam (tests/backend/ensemble_reduction_test.cpp,
// tests/backend/cuda/trajectory_batch_body_test.cpp).
#include <cuda_runtime.h>

#include "block_team.cuh"
#include "block_trajectories.cuh"
#include "krylov_kernel.cuh"
#include "qtraj/trajectory/krylov_propagator.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::cuda {

using trajectory::KrylovPropagator;

namespace {

// Launch bounds: at most 256 threads (block_size_for's ceiling) and 2 resident blocks per SM, so
// ptxas keeps the kernel at <= 128 registers per thread (uncapped it takes 160: one 256-thread
// block per SM; capped: 128 registers, 104 bytes of spill stores, nvcc 13 -O3 sm_90). The Lanczos
// loops are bound by memory traffic, so resident blocks matter more than registers. A block
// size above 256 is refused by configure() (cudaFuncAttributes::maxThreadsPerBlock).
constexpr int kKrylovBlockLimit = 256;
constexpr int kKrylovMinBlocks = 2;

__global__ void __launch_bounds__(kKrylovBlockLimit, kKrylovMinBlocks)
    krylov_trajectory_kernel(const TrajectoryBatchArgs args, const KrylovPropagator prototype) {
  run_block_trajectories(args, prototype);
}

}  // namespace

const void* gpu_krylov_kernel() { return reinterpret_cast<const void*>(&krylov_trajectory_kernel); }

cudaError_t gpu_run_trajectories_krylov(const TrajectoryBatchArgs& args,
                                        const KrylovPropagator& prototype, int grid_size,
                                        int block_size, std::size_t shared_bytes,
                                        cudaStream_t stream) {
  if (args.count <= 0) return cudaSuccess;
  krylov_trajectory_kernel<<<grid_size, block_size, shared_bytes, stream>>>(args, prototype);
  return cudaPeekAtLastError();
}

}  // namespace qtraj::cuda
