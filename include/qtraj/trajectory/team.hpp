#pragma once
// The "team" concept: the group of workers that cooperates on ONE trajectory (docs/design.md
// section 3.1).
//
// A team type T provides, callable from QTRAJ_HD code:
//   int rank() const;            // 0 .. size()-1
//   int size() const;
//   void sync();                 // barrier: all writes to shared arrays before it are visible after it
//   double reduce_sum(double v); // sum of v over the team, returned to EVERY rank, bit-identical
//                                // on every rank (so control flow that depends on it never diverges);
//                                // implies a sync before and after.
//
// Contract of the team-templated math (include/qtraj/trajectory/*.hpp):
//  - arrays in a TrajectoryWorkspace are shared by the team; each rank writes the components
//    i = rank, rank + size, ... (strided loops) and a sync() separates writes from reads by others;
//  - scalars (time, sector, draws) are private to each rank and computed redundantly: every rank
//    draws the same Philox numbers and sees the same reductions, so all ranks agree;
//  - single-writer outputs (observable rows, jump records) are written by rank 0 only.
//
// Backends: SerialTeam (size 1, the CPU backend), ThreadTeam (several std::threads, tests only,
// thread_team.hpp), and the CUDA backend's block team (one thread block, kernels/).
#include "qtraj/hd.hpp"

namespace qtraj::trajectory {

/// A team of one: the CPU backend runs one trajectory per std::thread with it.
struct SerialTeam {
  QTRAJ_HD int rank() const { return 0; }
  QTRAJ_HD int size() const { return 1; }
  QTRAJ_HD void sync() {}
  QTRAJ_HD double reduce_sum(double v) { return v; }
};

}  // namespace qtraj::trajectory
