#pragma once
// One entry of the sparse congruence B W B^T, written once for the host and the device
// (kernels/dense_cublas.cu runs it per entry on the GPU; tests/exact/dense_device_test.cpp on the
// CPU). It carries a symmetric block W of a source sector into a target sector through a collapse
// operator's block B (sector_system.hpp, transfer via the Dicke basis):
//   S(a, a') = sum_{b in row a} sum_{b' in row a'} B(a, b) W(b, b') B(a', b'),
// with B in CSR form (row_ptr[a] .. row_ptr[a + 1] - 1 index col/val; a row of a collective
// lowering or raising operator holds at most one entry per domain of the reservoir) and W stored
// column-major with only its lower triangle valid: W(b, b') = w[max(b, b') + min(b, b') ds].
#include <cstddef>

#include "qtraj/hd.hpp"

namespace qtraj {
namespace exact {

QTRAJ_HD inline double sparse_congruence_entry(const int* row_ptr, const int* col,
                                               const double* val, const double* w_lower, int ds,
                                               int a, int a_prime) {
  double sum = 0.0;
  for (int i = row_ptr[a]; i < row_ptr[a + 1]; ++i) {
    double inner = 0.0;  // (W B^T)(b_i, a')
    for (int j = row_ptr[a_prime]; j < row_ptr[a_prime + 1]; ++j) {
      const int hi = col[i] > col[j] ? col[i] : col[j], lo = col[i] > col[j] ? col[j] : col[i];
      inner += w_lower[static_cast<std::size_t>(lo) * static_cast<std::size_t>(ds) + hi] * val[j];
    }
    sum += val[i] * inner;
  }
  return sum;
}

}  // namespace exact
}  // namespace qtraj
