#pragma once
// Internal to the trajectory solver: what `solver.propagator = "auto"` runs, and the memory budget
// behind it (solver.memory_limit).
//
// The spectral propagator stores every sector's eigenvectors densely (V and V^T: 2 d_n^2 doubles
// per sector n <= max_sector) and diagonalises each sector once (~ d_n^3 work); the Krylov
// propagator stores nothing per sector (O(m d_n) per trajectory). `auto` takes spectral when its
// memory estimate fits the budget and its set-up estimate stays below kSpectralSetupLimit, else
// Krylov. The estimate is for the bundle of the most likely initial components (the one built up
// front); product-state mixtures build further, smaller bundles lazily.
#include <cstdint>
#include <string>
#include <vector>

#include "qtraj/model/model.hpp"
#include "qtraj/trajectory/propagators.hpp"

namespace qtraj::backend {

/// Set-up budget of `auto` in sum_n d_n^3: ~1e11 is about a minute of dense symmetric
/// eigensolves on one core of the 2-core development machine ((400,40,4): 3.4e9, 3.4 s).
constexpr double kSpectralSetupLimit = 1e11;

struct SpectralCost {
  double bytes = 0;        // eigenvectors 2 sum_n d_n^2 doubles + the eigensolver's transient
                           // 3 d_max^2 + the per-state tables' lambda (8 bytes per state)
  double setup = 0;        // sum_n d_n^3 over the sectors it diagonalises
  std::int64_t max_dim = 0;  // largest d_n
};

/// The spectral propagator's cost for sectors 0..max_sector of the product space with spins
/// two_j (sector sizes by convolution of the per-domain ranges 0..2 j_i; no basis is built).
SpectralCost spectral_cost(const std::vector<int>& two_j, int max_sector);

/// 25% of the physical memory (sysconf), the default memory_limit; 4 GiB if it cannot be read.
std::int64_t default_memory_limit();

/// The default memory_limit of a backend: for "cuda" also at most half of the device's free memory
/// (cudaMemGetInfo; the spectral bundle's V and V^T are uploaded whole, the other half is left to
/// the batch buffers and workspaces); without a usable device (CPU-only build, no GPU) the host
/// default, so that the backend reports the missing device itself. Other backends: the host default.
std::int64_t default_memory_limit(const std::string& backend);

/// PropagatorKind::spectral or ::krylov for `auto`. components[i][choice[i]] is the most likely component of
/// domain i; any_raising: some channel raises (thermal), so every sector up to the top is built.
trajectory::PropagatorKind choose_propagator(const std::vector<std::vector<DomainComponent>>& components,
                                             const std::vector<int>& choice,
                                             bool any_raising, std::int64_t memory_limit);

}  // namespace qtraj::backend
