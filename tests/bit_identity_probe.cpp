// A file that includes one guarded header of the bit-identical path (QTRAJ_PROBE_HEADER) and
// nothing else: the ctests BitIdentityGuard.* compile it with and without
// qtraj_bit_identical_flags (CMakeLists.txt) to show that the guard of
// include/qtraj/trajectory/bit_identical.hpp fires exactly when the flags are missing.
#include QTRAJ_PROBE_HEADER

int qtraj_bit_identity_probe() { return 0; }
