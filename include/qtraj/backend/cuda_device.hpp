#pragma once
// GPU entry points, declared once. A build with QTRAJ_BUILD_CUDA=ON implements them in kernels/;
// a CPU-only build links src/backend/device_hooks/, where each throws NotCompiled (Ginkgo's device hooks).
#include <string>

namespace qtraj::cuda {

/// One line per visible CUDA device ("0: NVIDIA H100 80GB HBM3, 79 GiB, sm_90").
/// Throws NotCompiled (CPU-only build) or DeviceError (no device / driver problem).
std::string device_summary();

}  // namespace qtraj::cuda
