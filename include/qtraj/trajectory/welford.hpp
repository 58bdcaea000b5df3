#pragma once
// Welford's update and Chan's merge, written once as QTRAJ_HD code: the CPU Aggregator
// (aggregator.hpp) and the CUDA backend's per-chunk reduction (kernels/chunk_reduction.cuh) both
// call these, so a chunk reduced on the device is bit-identical to the same chunk added one
// trajectory at a time by the CPU Aggregator.
//   add x (n = count after adding, inv_n = 1 / n):  delta = x - mean,  mean += delta inv_n,
//                                                   M2 += delta (x - mean)
//   merge B into A (n = nA + nB):  delta = mean_B - mean_A,  mean_A += delta (nB / n),
//                                  M2_A += M2_B + delta^2 (nA nB / n)
// Bit-identity across host and device needs the same IEEE operations in the same order and no
// fused multiply-adds: on the device the _rn intrinsics below are never contracted into FMAs
// (nvcc contracts a * b + c by default); on the host the plain operators, compiled without
// FMA contraction (x86-64 has no FMA below -march=haswell; aggregator.cpp is built with
// -ffp-contract=off, see CMakeLists.txt, so QTRAJ_NATIVE_ARCH builds do not fuse either).
#include "qtraj/hd.hpp"
#include "qtraj/trajectory/bit_identical_guard.hpp"  // -ffp-contract=off on the host

namespace qtraj::trajectory::welford {

QTRAJ_HD inline double mul(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
QTRAJ_HD inline double add(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
QTRAJ_HD inline double sub(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
QTRAJ_HD inline double div(double a, double b) {
#ifdef __CUDA_ARCH__
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

/// One Welford step for sample x, inv_n = 1 / (count after adding x).
QTRAJ_HD inline void add_sample(double x, double inv_n, double& mean, double& m2) {
  const double delta = sub(x, mean);
  mean = add(mean, mul(delta, inv_n));
  m2 = add(m2, mul(delta, sub(x, mean)));
}

/// inv_n of the n-th sample (n >= 1, exact in double below 2^53).
QTRAJ_HD inline double inverse_count(long long n) { return div(1.0, static_cast<double>(n)); }

/// Chan's merge of (nb, mean_b, m2_b) into (na, mean_a, m2_a), na, nb > 0 (as doubles).
QTRAJ_HD inline void merge(double na, double nb, double mean_b, double m2_b, double& mean_a,
                           double& m2_a) {
  const double n = add(na, nb);
  const double delta = sub(mean_b, mean_a);
  mean_a = add(mean_a, mul(delta, div(nb, n)));
  m2_a = add(m2_a, add(m2_b, mul(mul(delta, delta), div(mul(na, nb), n))));
}

/// Sequential Welford of one value over samples x[begin * stride], ..., x[(end - 1) * stride],
/// continuing a state of `count_before` samples (mean, m2): exactly Aggregator::add of these
/// samples in index order.
QTRAJ_HD inline void walk(const double* x, long long stride, long long begin, long long end,
                          long long count_before, double& mean, double& m2) {
  long long n = count_before;
  for (long long r = begin; r < end; ++r) {
    ++n;
    add_sample(x[r * stride], inverse_count(n), mean, m2);
  }
}

}  // namespace qtraj::trajectory::welford
