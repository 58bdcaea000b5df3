#pragma once
// Resource use of the trajectory kernels on the current device (docs/cuda.md section 2): registers
// per thread, local memory (register spills), static shared memory, and the occupancy they allow.
// Plain C++ header; implemented in kernels/kernel_info.cu, stubbed for the CPU-only build.
// Printed by qtraj_cuda_setup_bench (scripts/gpu-check.sh run). Compile-time figures without a
// GPU: nvcc -Xptxas -v on kernels/trajectory_kernel.cu (cuobjdump --dump-resource-usage on the
// object where the toolkit has it; this machine's does not): bench/RESULTS.md.
#include <string>
#include <vector>

namespace qtraj::cuda {

struct KernelResources {
  std::string name;         // "spectral", "adaptive"
  int registers = 0;        // per thread (cudaFuncAttributes::numRegs)
  long long local_bytes = 0;   // per thread: spills and local arrays
  long long static_shared = 0; // per block
  int max_threads = 0;      // per block, as limited by the registers
  int block_size = 0;       // the block size the occupancy figures are for
  long long dynamic_shared = 0;  // the workspace bytes assumed per block
  int blocks_per_sm = 0;    // resident blocks per SM at that block size and shared memory
  double warp_occupancy = 0.0;   // resident warps / the SM's maximum
};

/// The trajectory kernels' resources, occupancy at `block_size` threads per block with
/// `dynamic_shared` bytes of workspace per block. Throws DeviceError / NotCompiled.
std::vector<KernelResources> trajectory_kernel_resources(int block_size, long long dynamic_shared);

}  // namespace qtraj::cuda
