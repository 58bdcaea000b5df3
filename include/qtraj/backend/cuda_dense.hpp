#pragma once
// The exact solver's dense products on a GPU with cuBLAS (docs/cuda.md section 4): the DenseDevice
// of DenseKernels::cublas (include/qtraj/exact/dense_device.hpp), used by solve_exact when
// solver.backend = "cuda". Plain C++ header; implemented in kernels/dense_cublas.cu, stubbed in
// src/backend/device_hooks/cuda_stubs.cpp (CPU-only build: NotCompiled).
//
// Per product (operand A kept on the device, X and C host memory, one stream, synchronous):
//   congruence_lower:   X -> device; B = op(A) X (cublasDsymm); lower(C) = beta C + B op(A)^T
//                       (cublasDsyrkx: only the lower triangle); C -> host (and host -> device
//                       first when beta != 0).
//   multiply_symmetric: X -> device; C = A X (cublasDsymm); C -> host.
//   multiply:           B -> device; C = op(A) B (cublasDgemm); C -> host.
//   basis_transfer:     per source: X -> device; lower(W) = V X V^T (dsymm + dsyrkx); per kept
//                       sparse C: lower(S) += C W C^T (sparse_congruence_kernel, one thread per
//                       entry); then lower(s) = V^T S V (dsymm + dsyrkx); s -> host.
// Scratch buffers on the device grow to the largest product seen and are reused.
//
// cuBLAS is loaded at run time (dlopen of libcublas.so.<major>, then $QTRAJ_CUBLAS_LIBRARY, then
// $CUDA_HOME/lib64 and /usr/local/cuda/lib64), not linked: libcublas with its libcublasLt is
// ~570 MB (CUDA 13), more than the 64 MiB GPU bundle (scripts/gpu-check.sh) can carry; the way
// cuSOLVER is reached (cuda_eigensystems.hpp).
#include <memory>
#include <string>

#include "qtraj/exact/dense_device.hpp"

namespace qtraj::cuda {

/// True if cuBLAS products can run here: a CUDA build, a visible device and a loadable cuBLAS
/// with the routines above. Otherwise false and, if why != nullptr, one line saying why.
bool cublas_dense_available(std::string* why = nullptr);

/// A cuBLAS DenseDevice on the current CUDA device. Throws NotCompiled on a CPU-only build and
/// DeviceError (one line naming solver.backend) without a device or a loadable cuBLAS.
std::unique_ptr<exact::DenseDevice> make_cublas_dense();

}  // namespace qtraj::cuda
