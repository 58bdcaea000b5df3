#pragma once
// The bit-identical path and its guard.
//
// Engines built from different files are compared bit for bit (the CPU per-trajectory backend,
// the sector-batched engine, the thread teams, the Aggregator and the device's chunk reduction),
// so their arithmetic must round the same in every translation unit that compiles it. A host
// compiler contracts a * b + c into one FMA where the target has it (-march=native on x86-64,
// aarch64 always) unless told not to, and may do so differently in two files; so every host file
// that compiles this arithmetic is built with -ffp-contract=off. CMakeLists.txt gives that flag,
// with the definition QTRAJ_BIT_IDENTICAL_FLAGS, through the target qtraj_bit_identical_flags: the
// library files of the path are the OBJECT library qtraj_bit_identical, the test programs link
// the flags target whole.
//
// The guard stops the compile of a file of the path built without the flags:
//   - at instantiation: the team-parallel templates of sector_ops.hpp (every propagator, the jump
//     step and the sector-batched engine go through them) start with
//     QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team), a static_assert that fails in a host file without
//     QTRAJ_BIT_IDENTICAL_FLAGS; files that only include the headers (for the propagator kinds,
//     the bundle types) compile no arithmetic and need nothing;
//   - at inclusion: welford.hpp and batched_step.hpp, whose includers all compile their
//     arithmetic, include bit_identical_guard.hpp (an #error).
// nvcc translation units are exempt from the instantiation check: the per-trajectory kernels agree
// with the host to rounding only (device libm), never bit for bit.

namespace qtraj::trajectory {
namespace {  // one per translation unit: its value is this file's flags

template <class T>
constexpr bool bit_identical_flags() {
#if defined(QTRAJ_BIT_IDENTICAL_FLAGS) || defined(__CUDACC__)
  return sizeof(T) > 0;
#else
  return sizeof(T) == 0;  // false, but only once instantiated
#endif
}

}  // namespace
}  // namespace qtraj::trajectory

#define QTRAJ_BIT_IDENTICAL_INSTANTIATION(Team)                                                  \
  static_assert(::qtraj::trajectory::bit_identical_flags<Team>(),                                \
                "qtraj: this file compiles bit-identical trajectory arithmetic without "         \
                "-ffp-contract=off: add it to QTRAJ_BIT_IDENTICAL_SOURCES in CMakeLists.txt (or " \
                "link its target to qtraj_bit_identical_flags)")
