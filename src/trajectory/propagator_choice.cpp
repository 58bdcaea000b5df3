// `auto` propagator choice and the memory budget (propagator_choice.hpp).
#include "trajectory/propagator_choice.hpp"

#include <unistd.h>

#include <algorithm>
#include <complex>

#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/error.hpp"

namespace qtraj::backend {

SpectralCost spectral_cost(const std::vector<int>& two_j, int max_sector) {
  // d_n = number of (k_1..k_M), 0 <= k_i <= 2 j_i, with sum k_i = n: a running convolution.
  std::vector<double> dims{1.0};
  for (int tj : two_j) {
    std::vector<double> next(dims.size() + tj, 0.0);
    for (std::size_t n = 0; n < dims.size(); ++n)
      for (int k = 0; k <= tj; ++k) next[n + k] += dims[n];
    dims.swap(next);
  }
  SpectralCost cost;
  double squares = 0, states = 0;
  const int top = std::min<int>(max_sector, static_cast<int>(dims.size()) - 1);
  for (int n = 0; n <= top; ++n) {
    const double d = dims[n];
    squares += d * d;
    states += d;
    cost.setup += d * d * d;
    cost.max_dim = std::max<std::int64_t>(cost.max_dim, static_cast<std::int64_t>(d));
  }
  const double dmax = static_cast<double>(cost.max_dim);
  cost.bytes = 8.0 * (2.0 * squares + 3.0 * dmax * dmax + states);
  return cost;
}

std::int64_t default_memory_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::int64_t{4} << 30;
  return static_cast<std::int64_t>(pages) * page / 4;
}

std::int64_t default_memory_limit(const std::string& backend) {
  const std::int64_t host = default_memory_limit();
  if (backend != "cuda") return host;
  try {
    const cuda::DeviceMemory m = cuda::device_memory();
    return std::min<std::int64_t>(host, static_cast<std::int64_t>(m.free / 2));
  } catch (const NotCompiled&) {
    return host;
  } catch (const DeviceError&) {
    return host;
  }
}

trajectory::PropagatorKind choose_propagator(
    const std::vector<std::vector<DomainComponent>>& components, const std::vector<int>& choice,
    bool any_raising, std::int64_t memory_limit) {
  std::vector<int> two_j;
  int top = 0;
  for (std::size_t i = 0; i < components.size(); ++i) {
    const DomainComponent& c = components[i][choice[i]];
    two_j.push_back(c.two_j);
    int k_top = 0;  // highest k with a non-zero amplitude: the top sector is sum of these
    for (std::size_t k = 0; k < c.amplitudes.size(); ++k)
      if (std::norm(c.amplitudes[k]) > 0.0) k_top = static_cast<int>(k);
    top += any_raising ? c.two_j : k_top;
  }
  const SpectralCost cost = spectral_cost(two_j, top);
  const bool fits = cost.bytes <= static_cast<double>(memory_limit) && cost.setup <= kSpectralSetupLimit;
  return fits ? trajectory::PropagatorKind::spectral : trajectory::PropagatorKind::krylov;
}

}  // namespace qtraj::backend
