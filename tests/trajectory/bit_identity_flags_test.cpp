// The bit-identity flags are in effect in the test programs (qtraj_bit_identical_flags in
// CMakeLists.txt, the same target that gives them to the library files of the path): a * b + c is
// rounded twice, as two operations, never fused into one FMA. Without -ffp-contract=off a target
// with FMA (-march=native on x86-64, aarch64) fuses it and this test fails.
#include <gtest/gtest.h>

#include <cmath>

namespace {

// Opaque to the optimiser: the product and the sum happen at run time, in one expression.
double multiply_add(double a, double b, double c) {
  volatile double va = a, vb = b, vc = c;
  const double x = va, y = vb, z = vc;
  return x * y + z;
}

}  // namespace

#ifndef QTRAJ_BIT_IDENTICAL_FLAGS
#error "the test programs must be compiled with qtraj_bit_identical_flags (CMakeLists.txt)"
#endif

TEST(BitIdentityFlags, MultiplyAddIsRoundedTwiceNotFused) {
  // a b = 1 - 2^-60 exactly: rounded to the nearest double it is 1, so (a b) + c = 0, while the
  // fused a b + c keeps the -2^-60.
  const double a = 1.0 + std::ldexp(1.0, -30), b = 1.0 - std::ldexp(1.0, -30), c = -1.0;
  ASSERT_EQ(std::fma(a, b, c), -std::ldexp(1.0, -60));  // the inputs do tell the two apart
  EXPECT_EQ(multiply_add(a, b, c), 0.0) << "a * b + c was fused into an FMA";
}
