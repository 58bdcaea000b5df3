// The bit-identity guard. No include guard on purpose: every inclusion checks.
//
// Included by the headers whose arithmetic must round the same in every translation unit that
// compiles it, because engines built from different files are compared bit for bit (the CPU
// per-trajectory backend, the sector-batched engine, the thread teams, the Aggregator and the
// device's chunk reduction):
//   sector_ops.hpp     the per-trajectory math of every propagator and of run_trajectory,
//   welford.hpp        the ensemble statistics (Welford's update, Chan's merge),
//   batched_step.hpp   the sector-batched state machine (host and device).
// A host compiler contracts a * b + c into one FMA where the target has it (-march=native on
// x86-64, aarch64 always) unless told not to, and it may do so differently in two files; so every
// host translation unit that includes one of these headers is compiled with -ffp-contract=off.
// CMakeLists.txt gives that flag, together with the definition QTRAJ_BIT_IDENTICAL_FLAGS, to the
// interface target qtraj_bit_identical_flags: the library files of this path belong to the OBJECT
// library qtraj_bit_identical, and the test programs link the flags target whole. A file that
// includes one of the headers without it stops here, at compile time.
//
// nvcc translation units: their device code of welford.hpp uses the _rn intrinsics (never fused),
// and the per-trajectory kernels agree with the host to rounding only (libm), so they are exempt;
// the includer defines QTRAJ_BIT_IDENTICAL_DEVICE_CODE where the device code must be unfused too
// (batched_step.hpp: the device sector-batched engine, compiled with --fmad=false by the same
// target).
#if !defined(QTRAJ_BIT_IDENTICAL_FLAGS)
#if !defined(__CUDACC__)
#error "qtraj: this file compiles bit-identical trajectory arithmetic without -ffp-contract=off: add it to QTRAJ_BIT_IDENTICAL_SOURCES in CMakeLists.txt (or link its target to qtraj_bit_identical_flags)"
#elif defined(QTRAJ_BIT_IDENTICAL_DEVICE_CODE)
#error "qtraj: this CUDA file compiles the sector-batched engine's device code without --fmad=false: add it to QTRAJ_BIT_IDENTICAL_SOURCES in CMakeLists.txt"
#endif
#endif
