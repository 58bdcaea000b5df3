// The bit-identity guard at inclusion (no include guard on purpose: every inclusion checks); the
// rule and the instantiation check of the template code are in bit_identical.hpp.
// Included by welford.hpp and batched_step.hpp, whose every includer compiles their arithmetic:
// a host file that includes them without QTRAJ_BIT_IDENTICAL_FLAGS stops here. nvcc files are
// exempt (the device code of welford.hpp uses _rn intrinsics, never fused) unless the includer
// defines QTRAJ_BIT_IDENTICAL_DEVICE_CODE (batched_step.hpp: the device sector-batched engine,
// compiled with --fmad=false by the same CMake target).
#if !defined(QTRAJ_BIT_IDENTICAL_FLAGS)
#if !defined(__CUDACC__)
#error "qtraj: this file compiles bit-identical trajectory arithmetic without -ffp-contract=off: add it to QTRAJ_BIT_IDENTICAL_SOURCES in CMakeLists.txt (or link its target to qtraj_bit_identical_flags)"
#elif defined(QTRAJ_BIT_IDENTICAL_DEVICE_CODE)
#error "qtraj: this CUDA file compiles the sector-batched engine's device code without --fmad=false: add it to QTRAJ_BIT_IDENTICAL_SOURCES in CMakeLists.txt"
#endif
#endif
