// A file of the bit-identical path in miniature, for the ctests BitIdentityGuard.*
// (CMakeLists.txt): it includes one guarded header (QTRAJ_PROBE_HEADER) and, with
// QTRAJ_PROBE_INSTANTIATE, instantiates a team-parallel template of sector_ops.hpp as every
// engine does. Compiled with and without qtraj_bit_identical_flags, it shows that the guard of
// include/qtraj/trajectory/bit_identical.hpp fires exactly when a file compiles the path's
// arithmetic without the flags.
#include QTRAJ_PROBE_HEADER

#ifdef QTRAJ_PROBE_INSTANTIATE
#include "qtraj/trajectory/sector_ops.hpp"
#include "qtraj/trajectory/team.hpp"

double qtraj_bit_identity_probe(const double* re) {
  qtraj::trajectory::SerialTeam team;
  return qtraj::trajectory::norm2(team, 1, re, re, false);
}
#else
int qtraj_bit_identity_probe() { return 0; }
#endif
