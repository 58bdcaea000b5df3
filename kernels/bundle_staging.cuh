#pragma once
// Staging of one host bundle (TrajectorySystem) into a DeviceBundle: every flat array of its
// SystemView, the sector probabilities and the initial state, each copied with its exact length
// derived from the view itself. Host-only C++ (no CUDA header), templated on the copier so the
// runner copies to the device (cudaMalloc + cudaMemcpy) and the tests copy into guarded host
// buffers (tests/backend/cuda/trajectory_batch_body_test.cpp), which checks these lengths without a GPU.
//
// Array lengths (dim = sector_begin[max_excitation + 1], M domains, C channels):
//   two_j, n_spins: M;  sector_begin: max_excitation + 2;  k, lower, lower_amp, raise, raise_amp:
//   dim M;  obs_diag: 2 dim M;  channel_amp, channel_raising: C;  channel_domain_begin: C + 1;
//   channel_domains: channel_domain_begin[C];  lambda: dim;  eig_offset: max_excitation + 1;
//   eig_v, eig_vt: max over n <= spectral_max_sector of eig_offset[n] + d_n^2 (none without
//   spectral data);  k_row_ptr: dim + 1, k_col, k_val: k_row_ptr[dim] (none without the CSR K);
//   sector_prob: sector_probability().size();  start_re: dim; start_im: dim for a complex initial
//   state, else start_re again (never read).
#include <algorithm>
#include <cstddef>
#include <string>

#include "trajectory_batch.cuh"
#include "qtraj/trajectory/system.hpp"

namespace qtraj::cuda {

/// copy(const T* src, std::size_t n, const std::string& what) returns where the n values now
/// live (nullptr for n == 0 or src == nullptr). `tag` prefixes every `what` (error messages).
template <class Copy>
DeviceBundle stage_bundle(const trajectory::TrajectorySystem& system, const std::string& tag,
                          Copy&& copy) {
  const trajectory::SystemView& v = system.view();
  const int m = v.num_domains, c = v.num_channels, max_n = v.max_excitation;
  const std::size_t dim = static_cast<std::size_t>(v.sector_begin[max_n + 1]);
  const std::size_t md = dim * static_cast<std::size_t>(m);
  DeviceBundle b;
  trajectory::SystemView& d = b.view;
  d = v;  // the scalars; every pointer is replaced below
  d.two_j = copy(v.two_j, m, tag + "two_j");
  d.n_spins = copy(v.n_spins, m, tag + "n_spins");
  d.sector_begin = copy(v.sector_begin, max_n + 2, tag + "sector_begin");
  d.k = copy(v.k, md, tag + "k table");
  d.obs_diag = copy(v.obs_diag, 2 * md, tag + "observable diagonals");
  d.lower = copy(v.lower, md, tag + "lowering table");
  d.lower_amp = copy(v.lower_amp, md, tag + "lowering amplitudes");
  d.raise = copy(v.raise, md, tag + "raising table");
  d.raise_amp = copy(v.raise_amp, md, tag + "raising amplitudes");
  d.channel_amp = copy(v.channel_amp, c, tag + "channel amplitudes");
  d.channel_raising = copy(v.channel_raising, c, tag + "channel directions");
  d.channel_domain_begin = copy(v.channel_domain_begin, c + 1, tag + "channel domain offsets");
  d.channel_domains = copy(v.channel_domains, v.channel_domain_begin[c], tag + "channel domains");
  d.lambda = copy(v.lambda, dim, tag + "eigenvalues");
  d.eig_offset = copy(v.eig_offset, max_n + 1, tag + "eigenvector offsets");
  std::size_t eig_size = 0;
  if (v.spectral_max_sector >= 0 && v.eig_v != nullptr)
    for (int n = 0; n <= v.spectral_max_sector; ++n) {
      const std::size_t dn = static_cast<std::size_t>(v.sector_dim(n));
      eig_size = std::max(eig_size, static_cast<std::size_t>(v.eig_offset[n]) + dn * dn);
    }
  d.eig_v = copy(v.eig_v, eig_size, tag + "eigenvectors V");
  d.eig_vt = copy(v.eig_vt, eig_size, tag + "eigenvectors V^T");
  if (eig_size == 0) d.spectral_max_sector = -1;
  d.k_row_ptr = nullptr;
  d.k_col = nullptr;
  d.k_val = nullptr;
  if (v.k_row_ptr != nullptr) {
    const std::size_t nnz = static_cast<std::size_t>(v.k_row_ptr[dim]);
    d.k_row_ptr = copy(v.k_row_ptr, dim + 1, tag + "K row pointers");
    d.k_col = copy(v.k_col, nnz, tag + "K columns");
    d.k_val = copy(v.k_val, nnz, tag + "K values");
  }
  const auto& p = system.sector_probability();
  b.sector_prob = copy(p.data(), p.size(), tag + "sector probabilities");
  b.num_sectors = static_cast<int>(p.size());
  b.start_re = copy(system.start_re(0), dim, tag + "initial state (re)");
  // A real initial state's imaginary part is never read (run_trajectory: cplx false): not copied
  // (a lean Krylov bundle has none; (2000,200,20): 67 MB saved on the device).
  b.start_im = system.complex_state() ? copy(system.start_im(0), dim, tag + "initial state (im)")
                                      : b.start_re;
  b.complex_state = system.complex_state() ? 1 : 0;
  return b;
}

/// The staged bundle carries the spectral propagator's data / the adaptive one's.
inline bool has_spectral_data(const DeviceBundle& b) {
  return b.view.spectral_max_sector >= 0 && b.view.eig_v != nullptr;
}
inline bool has_adaptive_data(const DeviceBundle& b) { return b.view.k_row_ptr != nullptr; }
/// The Krylov propagator needs only the ladder tables, which every bundle has (a lean bundle,
/// TrajectorySystem(..., false, false), has nothing else: no amplitudes, observable diagonals,
/// eigenvalues or eigenvectors, so nothing dense per sector is staged).
inline bool has_krylov_data(const DeviceBundle& b) {
  return b.view.k != nullptr && b.view.lower != nullptr && b.view.raise != nullptr;
}

}  // namespace qtraj::cuda
