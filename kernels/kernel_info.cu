// Resource use and occupancy of the trajectory kernels (include/qtraj/backend/cuda_kernel_info.hpp).
#include <cuda_runtime.h>

#include "cuda_check.cuh"
#include "qtraj/backend/cuda_kernel_info.hpp"
#include "trajectory_kernel.cuh"

namespace qtraj::cuda {

std::vector<KernelResources> trajectory_kernel_resources(int block_size, long long dynamic_shared) {
  int device = 0, max_threads_sm = 0;
  QTRAJ_CUDA_CHECK(cudaGetDevice(&device));
  QTRAJ_CUDA_CHECK(
      cudaDeviceGetAttribute(&max_threads_sm, cudaDevAttrMaxThreadsPerMultiProcessor, device));
  std::vector<KernelResources> out;
  using trajectory::PropagatorKind;
  for (PropagatorKind kind : {PropagatorKind::spectral, PropagatorKind::adaptive}) {
    cudaFuncAttributes attr{};
    QTRAJ_CUDA_CHECK(gpu_trajectory_kernel_attributes(kind, &attr));
    KernelResources r;
    r.name = trajectory::propagator_name(kind);
    r.registers = attr.numRegs;
    r.local_bytes = static_cast<long long>(attr.localSizeBytes);
    r.static_shared = static_cast<long long>(attr.sharedSizeBytes);
    r.max_threads = attr.maxThreadsPerBlock;
    r.block_size = block_size;
    r.dynamic_shared = dynamic_shared;
    if (dynamic_shared > 0)
      QTRAJ_CUDA_CHECK(gpu_set_trajectory_shared_limit(kind, static_cast<int>(dynamic_shared)));
    QTRAJ_CUDA_CHECK(gpu_trajectory_occupancy(kind, block_size,
                                              static_cast<std::size_t>(dynamic_shared),
                                              &r.blocks_per_sm));
    r.warp_occupancy = max_threads_sm > 0 ? static_cast<double>(r.blocks_per_sm) * block_size /
                                                static_cast<double>(max_threads_sm)
                                          : 0.0;
    out.push_back(r);
  }
  return out;
}

}  // namespace qtraj::cuda
