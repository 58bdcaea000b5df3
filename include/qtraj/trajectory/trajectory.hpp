#pragma once
// One quantum trajectory by the waiting-time algorithm (docs/design.md section 3.1), host-device
// and team-parallel (team.hpp), for either propagator (spectral_propagator.hpp,
// adaptive_propagator.hpp):
//   1. draw u ~ U(0,1);  2. evolve psi' = -K psi (unnormalised) until ||psi||^2 = u;
//   3. pick channel c with probability ||C_c psi||^2 / sum_c' ||C_c' psi||^2, psi <- C_c psi / norm;
//   4. repeat until t_end, recording normalised observables on the output grid.
//
// Random draws of trajectory t (PhiloxStream(seed, t), in this order):
//   M draws choosing each domain's initial component (sample_index over the component weights),
//   1 draw choosing the starting sector (sample_index over ||P_n psi||^2),
//   then per jump: u (waiting time), then r (channel).
#include <math.h>

#include "qtraj/trajectory/philox.hpp"
#include "qtraj/trajectory/sector_ops.hpp"
#include "qtraj/trajectory/team.hpp"

namespace qtraj::trajectory {

/// Index i with cumulative weight sum_{j<i} w_j <= x W < sum_{j<=i} w_j (W = sum of weights,
/// x in (0,1)); skips zero weights; returns the last positive weight's index at the top edge.
QTRAJ_HD inline int sample_index(double x, const double* w, int count) {
  double total = 0.0;
  for (int i = 0; i < count; ++i) total += w[i];
  const double target = x * total;
  double acc = 0.0;
  int last = -1;
  for (int i = 0; i < count; ++i) {
    if (w[i] <= 0.0) continue;
    acc += w[i];
    last = i;
    if (target < acc) return i;
  }
  return last;
}

/// Draws each domain's initial component: comp[i] = sample_index(u, w_i), where domain i's weights
/// are weights[begin[i] .. begin[i+1]). One draw per domain, in domain order.
QTRAJ_HD inline void draw_components(PhiloxStream& rng, int num_domains, const double* weights,
                                     const int* begin, int* comp) {
  for (int i = 0; i < num_domains; ++i)
    comp[i] = sample_index(rng.uniform(), weights + begin[i], begin[i + 1] - begin[i]);
}

/// Draws the starting sector n with probability p_n = ||P_n psi||^2 (one draw). Starting from
/// P_n psi / sqrt(p_n) is an exact unravelling for every observable we record: they all commute
/// with the total excitation n, and the master equation never maps a coherence between sectors
/// n != n' into a sector-diagonal block (every C_c and K shift n by a fixed amount), so the
/// sector-diagonal part of rho(t) -- all that n-conserving observables see -- evolves from
/// sum_n P_n rho(0) P_n alone.
QTRAJ_HD inline int draw_sector(PhiloxStream& rng, const double* sector_prob, int count) {
  return sample_index(rng.uniform(), sector_prob, count);
}

/// Where a trajectory starts: sector n and the normalised P_n psi (sector-local, length d_n).
struct TrajectoryStart {
  int sector = 0;
  const double* psi_re = nullptr;
  const double* psi_im = nullptr;  // may be nullptr when !complex_state
  bool complex_state = false;
};

/// What jump_step did: the channel that fired and the sector the state is now in; channel = -1
/// when the state was numerically dark at the crossing (no channel can fire).
struct JumpOutcome {
  int channel = -1;
  int target = -1;
};

/// Step 3 of the waiting-time algorithm, at a crossing: ws.psi is the unnormalised state in sector
/// n. Channel weights w_c = ||C_c psi||^2 go to ws.channel_weight (0 for a channel that would leave
/// the space). If sum_c w_c > 0: one draw r picks c = sample_index(r, w), psi <- C_c psi / sqrt(w_c)
/// (in sector channel_target(c, n)) and channel_counts[c] is incremented; otherwise no draw and
/// psi is untouched. The one jump of both engines (run_trajectory and the sector-batched
/// batched_consume, batched_step.hpp), so their draws and arithmetic are the same.
template <class Team>
QTRAJ_HD JumpOutcome jump_step(Team& team, const SystemView& sys, const TrajectoryWorkspace& ws,
                               int n, bool cplx, PhiloxStream& rng, int* channel_counts) {
  JumpOutcome jump;
  double total = 0.0;
  for (int c = 0; c < sys.num_channels; ++c) {
    const int target = channel_target(sys, c, n);
    double w = 0.0;
    if (target >= 0 && target <= sys.max_excitation)
      w = apply_channel(team, sys, c, n, ws.psi_re, ws.psi_im, cplx, ws.tmp_re, ws.tmp_im);
    if (team.rank() == 0) ws.channel_weight[c] = w;
    total += w;
  }
  team.sync();
  if (!(total > 0.0)) return jump;  // numerically dark at the crossing
  jump.channel = sample_index(rng.uniform(), ws.channel_weight, sys.num_channels);
  jump.target = channel_target(sys, jump.channel, n);
  const double w =
      apply_channel(team, sys, jump.channel, n, ws.psi_re, ws.psi_im, cplx, ws.tmp_re, ws.tmp_im);
  scale_copy(team, sys.sector_dim(jump.target), 1.0 / ::sqrt(w), ws.tmp_re, ws.tmp_im, cplx,
             ws.psi_re, ws.psi_im);
  if (team.rank() == 0) ++channel_counts[jump.channel];
  return jump;
}

/// run_trajectory's return value for a trajectory whose output rows are not all written.
constexpr int kTrajectoryIncomplete = -1;

/// Runs one trajectory from `start` to out.times[num_times - 1]. Returns the number of jumps
/// (jumps beyond out.jump_capacity are counted but not stored), or kTrajectoryIncomplete if the
/// propagator stopped before writing every output row (the adaptive step limit): the caller must
/// not use such a trajectory's output.
template <class Team, class Propagator>
QTRAJ_HD int run_trajectory(Team& team, const SystemView& sys, Propagator& prop, PhiloxStream& rng,
                            const TrajectoryStart& start, const TrajectoryWorkspace& ws,
                            TrajectoryOutput& out) {
  const bool cplx = start.complex_state;
  int n = start.sector;
  if (team.rank() == 0)
    for (int c = 0; c < sys.num_channels; ++c) out.channel_counts[c] = 0;
  scale_copy(team, sys.sector_dim(n), 1.0, start.psi_re, cplx ? start.psi_im : start.psi_re, cplx,
             ws.psi_re, ws.psi_im);
  prop.load(team, sys, ws, n, cplx);
  double t = 0.0;
  int next_out = 0;
  int jumps = 0;
  bool stop_jumping = false;
  for (;;) {
    const double u = stop_jumping ? 0.0 : rng.uniform();
    const double t_jump = prop.advance(team, sys, ws, t, u, out, next_out);
    if (t_jump < 0.0) break;
    // ws.psi = unnormalised state at the jump.
    const JumpOutcome jump = jump_step(team, sys, ws, n, cplx, rng, out.channel_counts);
    if (jump.channel < 0) {  // dark: no further waiting-time draws (u = 0 from here on)
      stop_jumping = true;
      prop.load(team, sys, ws, n, cplx);
      t = t_jump;
      continue;
    }
    if (team.rank() == 0 && jumps < out.jump_capacity) {
      out.jump_time[jumps] = t_jump;
      out.jump_channel[jumps] = jump.channel;
    }
    ++jumps;
    n = jump.target;
    t = t_jump;
#ifndef __CUDA_ARCH__
    // A stop request (host, one-thread teams): return unfinished; the caller drops the trajectory.
    if (out.stop && team.size() == 1 && (jumps & 1023) == 0 &&
        out.stop->load(std::memory_order_relaxed))
      return kTrajectoryIncomplete;
#endif
    prop.load(team, sys, ws, n, cplx);
  }
  team.sync();
  return next_out == out.num_times ? jumps : kTrajectoryIncomplete;
}

}  // namespace qtraj::trajectory
