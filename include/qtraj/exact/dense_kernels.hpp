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

/// Picks OpenBLAS's kernels, once per process: where its run-time dispatcher did not recognise
/// this CPU (OpenBLAS 0.3.21 takes Intel family 6 models newer than Sapphire Rapids, e.g. Emerald
/// Rapids (207), for a "Prescott" and runs SSE3 kernels, ~5x slower) and the user did not choose
/// one with OPENBLAS_CORETYPE, it switches to the kernels the CPU supports (SkylakeX with
/// AVX-512, Haswell with AVX2/FMA). This sets OPENBLAS_CORETYPE and reloads OpenBLAS's kernel
/// table: call it at program start (the CLI's main, a language binding's module init), before
/// any thread runs BLAS; later calls only return the answer of the first. Without it the
/// dispatcher's choice stands (correct, maybe slower). Returns the core name ("Haswell"; "CBLAS"
/// for another CBLAS, "" without one).
std::string initialize_blas();

/// OpenBLAS's thread count is one setting for the whole process (0.3.21 has no per-call choice),
/// and a product's rounding depends on it (the work is split differently: measured, dgemm, dtrmm
/// and dsymm differ in the last bits between 1 and 2 threads). A BlasThreads holds it at
/// `threads` (<= 0: all cores) from construction to destruction: holders that want the count in
/// force share it; one that wants another count waits, first come first served, until the last
/// holder is gone, and only then is the count changed. So every BLAS call made under a holder
/// runs with exactly its count, and a solve's results do not depend on what other threads of the
/// process solve meanwhile (two exact solves that want different counts take turns). Hold one
/// around every stretch of BLAS or LAPACK calls (worker threads the holder starts and joins are
/// covered); never construct a second one on a thread that holds one (it may wait for itself).
class BlasThreads {
 public:
  explicit BlasThreads(int threads);
  ~BlasThreads();
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;
  int threads() const { return threads_; }
  /// One line, e.g. "OpenBLAS Haswell, 2 threads" ("Eigen (no BLAS in this build)" without CBLAS).
  std::string description() const;

 private:
  int threads_;
};

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
