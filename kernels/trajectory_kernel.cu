// Trajectory kernels: one trajectory per thread block, the per-trajectory math of
// include/qtraj/trajectory/ (run_trajectory, both propagators) run unchanged with team = BlockTeam.
// The per-trajectory body (draws identical to the CPU backend) is run_batch_trajectory,
// trajectory_batch.cuh.
#include <cuda_runtime.h>

#include "block_team.cuh"
#include "block_trajectories.cuh"
#include "krylov_kernel.cuh"
#include "trajectory_kernel.cuh"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::cuda {

using trajectory::KrylovPropagator;
using trajectory::PropagatorKind;
using trajectory::SpectralPropagator;

namespace {

template <class Propagator>
__global__ void trajectory_batch_kernel(const TrajectoryBatchArgs args, const Propagator prototype) {
  run_block_trajectories(args, prototype);
}

// Register budget of the spectral kernel (docs/cuda.md section 2; ptxas figures: bench/RESULTS.md).
// Unbounded, ptxas gives it 168 registers per thread (no spills): one 224-thread block per SM
// (10.9% of the warps) or 12 blocks of 32 threads (18.75%). __launch_bounds__(256, 2) caps it at
// 65536 / 512 = 128 registers (84 bytes of spill stores, 108 of loads per thread): two 224-thread
// blocks (21.9%) or 16 blocks of 32 threads (25%) per SM. Lower caps spill much more (96:
// 300 / 872 bytes). The adaptive kernel stays unbounded (186 registers; a cap of 128 costs it
// 440 / 916 bytes of spills, and __launch_bounds__(256, 1) would let it grow to 214). The spectral
// kernel's blocks are at most kMaxBlockThreads threads (block_size_for never picks more; a larger
// LaunchSettings::block_size is refused by configure, which reads cudaFuncAttributes).
// Register counts are ptxas's (nvcc 13, sm_90); qtraj_cuda_setup_bench prints both kernels'
// registers and occupancy on a device (docs/cuda.md section 1).
constexpr int kMaxBlockThreads = 256;
template <class Propagator>
__global__ void __launch_bounds__(kMaxBlockThreads, 2)
    bounded_trajectory_batch_kernel(const TrajectoryBatchArgs args, const Propagator prototype) {
  run_block_trajectories(args, prototype);
}

/// The kernel each propagator launches.
template <class Propagator>
using KernelPtr = void (*)(TrajectoryBatchArgs, Propagator);
template <class Propagator>
KernelPtr<Propagator> kernel_for() {
  return &trajectory_batch_kernel<Propagator>;
}
template <>
KernelPtr<SpectralPropagator> kernel_for<SpectralPropagator>() {
  return &bounded_trajectory_batch_kernel<SpectralPropagator>;
}

template <class Propagator>
cudaError_t launch(const TrajectoryBatchArgs& args, const Propagator& prototype, int grid_size,
                   int block_size, std::size_t shared_bytes, cudaStream_t stream) {
  if (args.count <= 0) return cudaSuccess;
  kernel_for<Propagator>()<<<grid_size, block_size, shared_bytes, stream>>>(args, prototype);
  return cudaPeekAtLastError();
}

// The Krylov kernel is krylov_kernel.cu's (its own translation unit and launch bounds).
cudaError_t launch(const TrajectoryBatchArgs& args, const KrylovPropagator& prototype, int grid_size,
                   int block_size, std::size_t shared_bytes, cudaStream_t stream) {
  return gpu_run_trajectories_krylov(args, prototype, grid_size, block_size, shared_bytes, stream);
}

template <class Propagator>
const void* kernel_address(const Propagator&) {
  return reinterpret_cast<const void*>(kernel_for<Propagator>());
}
const void* kernel_address(const KrylovPropagator&) { return gpu_krylov_kernel(); }

const void* kernel_of(PropagatorKind kind) {
  return trajectory::with_propagator(kind, {}, [](auto prototype) { return kernel_address(prototype); });
}

}  // namespace

cudaError_t gpu_trajectory_kernel_attributes(PropagatorKind kind, cudaFuncAttributes* attr) {
  return cudaFuncGetAttributes(attr, kernel_of(kind));
}

cudaError_t gpu_set_trajectory_shared_limit(PropagatorKind kind, int bytes) {
  return cudaFuncSetAttribute(kernel_of(kind), cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}

cudaError_t gpu_trajectory_occupancy(PropagatorKind kind, int block_size, std::size_t shared_bytes,
                                     int* blocks_per_sm) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, kernel_of(kind), block_size,
                                                       shared_bytes);
}

cudaError_t gpu_run_trajectories(PropagatorKind kind, const trajectory::PropagatorParams& params,
                                 const TrajectoryBatchArgs& args, int grid_size, int block_size,
                                 std::size_t shared_bytes, cudaStream_t stream) {
  return trajectory::with_propagator(kind, params, [&](auto prototype) {
    return launch(args, prototype, grid_size, block_size, shared_bytes, stream);
  });
}

}  // namespace qtraj::cuda
