#pragma once
// The no-jump propagators of the trajectory engine (docs/design.md section 3, "propagators"), in
// one place: the PropagatorKind enum, each kind's run-file name and bundle needs
// (propagator_info), and the one switch from a kind to its class (with_propagator), which the CPU
// backend (src/backend/cpu_trajectories.cpp), the CUDA runner (kernels/trajectory_batch_runner.cu,
// kernels/trajectory_kernel.cu) and the bundles (TrajectorySystem, BundleCache) all go through.
//
// Adding a propagator: write its class (the interface of spectral_propagator.hpp: scratch_doubles,
// load, advance; QTRAJ_HD), then in this file add an enumerator, its entry in kPropagatorKinds,
// its propagator_info and its case in with_propagator. Nothing else switches on the kind, except
// input limits peculiar to one propagator (TrajectoryRun: the adaptive one's explicit-step limit;
// the CUDA runner: Krylov's basis size) and the sector-batched engine, which is spectral only.
//
// `solver.propagator = "auto"` is not a kind: TrajectoryRun resolves it from the memory budget
// (src/trajectory/propagator_choice.hpp) before anything runs.
#include <string>

#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/krylov_propagator.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"

namespace qtraj::trajectory {

enum class PropagatorKind { spectral, adaptive, krylov };

/// Every kind, in the order the names are listed in messages.
constexpr PropagatorKind kPropagatorKinds[] = {PropagatorKind::spectral, PropagatorKind::adaptive,
                                               PropagatorKind::krylov};

/// What a kind is called and what it needs.
struct PropagatorInfo {
  const char* name;         // solver.propagator value and the result attribute `propagator`
  bool eigensystems;        // its bundles hold the per-sector V_n, lambda_n (TrajectorySystem)
  bool sparse_k;            // its bundles hold the sparse K (CSR)
  bool tolerances;          // it uses rtol, atol (both must be > 0)
};

inline PropagatorInfo propagator_info(PropagatorKind kind) {
  switch (kind) {
    case PropagatorKind::adaptive: return {"adaptive", false, true, true};
    case PropagatorKind::krylov: return {"krylov", false, false, true};  // lean bundles
    case PropagatorKind::spectral: break;
  }
  return {"spectral", true, false, false};
}

inline std::string propagator_name(PropagatorKind kind) { return propagator_info(kind).name; }

/// The kind called `name`; false when none is ("auto" included: it is resolved, not a kind).
inline bool propagator_from_name(const std::string& name, PropagatorKind& kind) {
  for (PropagatorKind k : kPropagatorKinds)
    if (name == propagator_info(k).name) {
      kind = k;
      return true;
    }
  return false;
}

/// "spectral | adaptive | krylov" (for input errors).
inline std::string propagator_names() {
  std::string list;
  for (PropagatorKind k : kPropagatorKinds) list += (list.empty() ? "" : " | ") + propagator_name(k);
  return list;
}

/// What a propagator is constructed from (the kinds that do not use a field ignore it).
struct PropagatorParams {
  double rtol = 1e-8;                // adaptive and krylov
  double atol = 1e-10;               // adaptive and krylov
  int max_basis = kKrylovMaxBasis;   // krylov: largest Lanczos basis (clamped to 2..kKrylovMaxBasis)
};

/// The one dispatch from a kind to code: returns f(P(params)), with P the kind's propagator class
/// (a fresh prototype; f may take it by value and use decltype(prototype) for the type, e.g.
/// P::scratch_doubles). f must return the same type for every P. Host code (both backends).
template <class F>
decltype(auto) with_propagator(PropagatorKind kind, const PropagatorParams& params, F&& f) {
  switch (kind) {
    case PropagatorKind::adaptive: return f(AdaptivePropagator(params.rtol, params.atol));
    case PropagatorKind::krylov:
      return f(KrylovPropagator(params.rtol, params.atol, params.max_basis));
    case PropagatorKind::spectral: break;
  }
  return f(SpectralPropagator());
}

}  // namespace qtraj::trajectory
