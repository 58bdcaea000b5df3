#pragma once
// The dense products of the exact solver (sector_system.hpp): the symmetric congruences
// C = op(A) X op(A)^T that carry a symmetric block between bases and sectors, and the products
// V X of the populations. Three implementations of the same math:
//  - DenseKernels::eigen: Eigen's own GEMMs (portable, single-threaded, vectorised only as far as
//    the compiler flags allow: SSE2 without -march);
//  - DenseKernels::blas: CBLAS (OpenBLAS in the builds here; QTRAJ_HAVE_CBLAS), multi-threaded.
//    With X = L + L^T, L = lower(X) with a halved diagonal,
//      op(A) X op(A)^T = (op(A) L) op(A)^T + op(A) (op(A) L)^T,
//    a triangular product (dtrmm, r k^2 flops) and a symmetric rank-2k update (dsyr2k, r^2 k
//    flops into the lower triangle): 3 d^3 in all for r = k = d, against 4 d^3 for two GEMMs.
//  - DenseKernels::cublas: the same products on a DenseDevice (dense_device.hpp; cuBLAS on a GPU,
//    solver.backend = "cuda"), passed as the last argument: B = op(A) X (dsymm), then
//    lower(C) = beta C + B op(A)^T (dsyrkx, which writes only the lower triangle), 3 d^3 flops.
// All agree to rounding (about 1e-15 relative per product; tests/exact/dense_kernels_test.cpp).
#include <string>
#include <vector>

#include "qtraj/exact/dense_device.hpp"

namespace qtraj {
namespace exact {

enum class DenseKernels { eigen, blas, cublas };

/// True when the build links a CBLAS (QTRAJ_HAVE_CBLAS).
bool blas_available();
/// DenseKernels::blas where available, else eigen.
DenseKernels default_dense_kernels();

/// Sets the number of BLAS threads (threads <= 0: all cores) and, where OpenBLAS's run-time
/// dispatcher did not recognise this CPU (OpenBLAS 0.3.21 takes Intel family 6 models newer than
/// Sapphire Rapids, e.g. Emerald Rapids (207), for a "Prescott" and runs SSE3 kernels, ~5x
/// slower) and the user did not choose one with OPENBLAS_CORETYPE, switches its kernels to those
/// the CPU supports (SkylakeX with AVX-512, Haswell with AVX2/FMA). Call between BLAS calls,
/// never during one. Returns a one-line description, e.g. "OpenBLAS SkylakeX, 2 threads".
std::string configure_blas(int threads);

/// Column-major products; every pointer is to a column-major matrix with leading dimension its
/// row count. work is scratch (resized as needed). device: required with DenseKernels::cublas
/// (else Error), ignored otherwise.
/// Lower triangle of C (r x r) = beta C + op(A) X op(A)^T, with X (k x k) symmetric (both
/// triangles stored), op(A) = A (r x k) or A^T (A stored k x r). The strictly upper triangle of C
/// is left as it was.
void congruence_lower(DenseKernels kernels, const double* a, bool transpose_a, int r, int k,
                      const double* x, double beta, double* c, std::vector<double>& work,
                      DenseDevice* device = nullptr);

/// C (r x k) = A (r x k) X (k x k), X symmetric (both triangles stored).
void multiply_symmetric(DenseKernels kernels, const double* a, int r, int k, const double* x,
                        double* c, DenseDevice* device = nullptr);

/// C (m x n) = op(A) B, op(A) = A (m x k) or A^T (A stored k x m), B (k x n).
void multiply(DenseKernels kernels, const double* a, bool transpose_a, int m, int k,
              const double* b, int n, double* c, DenseDevice* device = nullptr);

}  // namespace exact
}  // namespace qtraj
