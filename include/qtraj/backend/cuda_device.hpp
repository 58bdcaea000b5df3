#pragma once
// GPU entry points, declared once. A build with QTRAJ_BUILD_CUDA=ON implements them in kernels/;
// a CPU-only build links src/backend/device_hooks/, where each throws NotCompiled (Ginkgo's device hooks).
#include <cstddef>
#include <string>

namespace qtraj::cuda {

/// Free and total memory of the current CUDA device, bytes (cudaMemGetInfo).
struct DeviceMemory {
  std::size_t free = 0, total = 0;
};
/// Throws NotCompiled (CPU-only build) or DeviceError (no device / driver problem).
DeviceMemory device_memory();

/// One line per visible CUDA device ("0: NVIDIA H100 80GB HBM3, 79 GiB, sm_90").
/// Throws NotCompiled (CPU-only build) or DeviceError (no device / driver problem).
std::string device_summary();

/// True if a CUDA device is visible (cudaGetDeviceCount > 0); false on a CPU-only build. Never throws.
bool device_available();

}  // namespace qtraj::cuda
