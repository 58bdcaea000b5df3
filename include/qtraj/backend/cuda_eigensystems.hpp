#pragma once
// The CUDA backend's set-up on the device (docs/cuda.md section 3): the per-sector eigensystems
// K_n = V diag(lambda) V^T of a spectral bundle with cuSOLVER, as a trajectory::SectorEigensolver
// (TrajectorySystem's batched hook). Plain C++ header; implemented in kernels/eigensystems_cusolver.cu,
// stubbed in src/backend/device_hooks/cuda_stubs.cpp (CPU-only build: not available).
//
// Which routine solves which sector (grouped by dimension d, all sectors of one bundle at once):
//   d = 1:                   on the host (lambda = K, V = 1);
//   2 <= d <= 32:            cusolverDnDsyevjBatched (Jacobi, sorted, tolerance = machine eps),
//                            one call per dimension (up to a memory cap per call);
//   d > 32, >= 2 sectors:    cusolverDnXsyevBatched (cuSOLVER >= 11.7) per dimension, else
//   d > 32, alone:           cusolverDnDsyevd, one sector at a time.
// Accuracy (tests/backend/cuda/eigensystems_cuda_test.cpp): eigenvalues equal the host's to
// 1e-12 max|lambda|, V orthonormal and V diag(lambda) V^T = K to 1e-12 ||K||; eigenvectors differ
// from the host's by sign and within degenerate subspaces only, which the spectral propagator's
// V exp(-lambda t) V^T does not see.
//
// cuSOLVER is loaded at run time (dlopen of libcusolver.so.<major>, then $QTRAJ_CUSOLVER_LIBRARY,
// then $CUDA_HOME/lib64 and /usr/local/cuda/lib64), not linked: with its dependencies (cuBLAS,
// cuBLASLt, cuSPARSE, nvJitLink) it is ~1 GB, which neither the 64 MiB GPU bundle
// (scripts/gpu-check.sh) nor the static-runtime container (docker/) can carry. Without it the
// CUDA backend's set-up stays on the host threads (same results to rounding).
#include <string>
#include <vector>

#include "qtraj/trajectory/system.hpp"

namespace qtraj::cuda {

/// True if the device set-up can run here: a CUDA build, a visible device and a loadable cuSOLVER
/// with the routines above. Otherwise false and, if why != nullptr, one line saying why.
bool device_eigensolver_available(std::string* why = nullptr);

/// What the last device_eigensystems call did (benchmarks, logs).
struct EigensystemsInfo {
  int host_sectors = 0;        // d = 1
  int syevj_batched_calls = 0;
  int syev_batched_calls = 0;
  int syevd_calls = 0;
  double seconds = 0.0;        // wall time of the call (copies included)
};

/// Solves every task on the current CUDA device (layout: trajectory::SymmetricEigenTask). Thread
/// safe (calls are serialised). Throws DeviceError (one line) if cuSOLVER is missing, a call fails
/// or an eigensolver does not converge, NotCompiled on a CPU-only build.
void device_eigensystems(const std::vector<trajectory::SymmetricEigenTask>& tasks,
                         EigensystemsInfo* info = nullptr);

}  // namespace qtraj::cuda
