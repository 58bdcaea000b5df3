// Product Dicke basis ordered by excitation sectors (see include/qtraj/model/dicke_space.hpp).
#include "qtraj/model/dicke_space.hpp"

#include <algorithm>
#include <numeric>

#include "qtraj/error.hpp"

namespace qtraj {

DickeSpace::DickeSpace(std::vector<int> two_j, std::int64_t max_dim) : two_j_(std::move(two_j)) {
  const int m = num_domains();
  dim_ = 1;
  for (int i = 0; i < m; ++i) {
    if (two_j_[i] < 0) throw InputError("two_j", std::to_string(two_j_[i]), "must be >= 0");
    dim_ *= (two_j_[i] + 1);
    if (dim_ > max_dim)
      throw InputError("system.domains", "Dicke dimension > " + std::to_string(max_dim),
                       "too large for a Dicke-basis solver (use solver.kind = \"meanfield\")");
  }
  max_n_ = std::accumulate(two_j_.begin(), two_j_.end(), 0);

  // Enumerate the mixed-radix (k_1 slowest) index, count sectors, then order by (n, lexicographic).
  std::vector<int> total_mr(dim_);
  std::vector<std::int64_t> count(max_n_ + 2, 0);
  {
    std::vector<int> k(m, 0);
    for (std::int64_t g = 0; g < dim_; ++g) {
      int n = 0;
      for (int i = 0; i < m; ++i) n += k[i];
      total_mr[g] = n;
      ++count[n + 1];
      for (int i = m - 1; i >= 0; --i) {  // increment, last domain fastest
        if (++k[i] <= two_j_[i]) break;
        k[i] = 0;
      }
    }
  }
  sector_offset_.assign(max_n_ + 2, 0);
  for (int n = 0; n <= max_n_; ++n) sector_offset_[n + 1] = sector_offset_[n] + count[n + 1];

  // Mixed-radix order is lexicographic in k, so a stable bucket pass keeps it within a sector.
  mixed_radix_to_index_.resize(dim_);
  k_.resize(dim_ * m);
  total_.resize(dim_);
  std::vector<std::int64_t> next(sector_offset_.begin(), sector_offset_.end() - 1);
  {
    std::vector<int> k(m, 0);
    for (std::int64_t g = 0; g < dim_; ++g) {
      const std::int64_t s = next[total_mr[g]]++;
      mixed_radix_to_index_[g] = s;
      total_[s] = total_mr[g];
      std::copy(k.begin(), k.end(), k_.begin() + s * m);
      for (int i = m - 1; i >= 0; --i) {
        if (++k[i] <= two_j_[i]) break;
        k[i] = 0;
      }
    }
  }
  // Ladder tables: in mixed radix, k_i -> k_i - 1 moves the index by the stride of domain i.
  std::vector<std::int64_t> stride(m, 1);
  for (int i = m - 2; i >= 0; --i) stride[i] = stride[i + 1] * (two_j_[i + 1] + 1);
  lower_.assign(dim_ * m, kNone);
  raise_.assign(dim_ * m, kNone);
  for (std::int64_t s = 0; s < dim_; ++s) {
    std::int64_t g = 0;
    for (int i = 0; i < m; ++i) g += stride[i] * k_[s * m + i];
    for (int i = 0; i < m; ++i) {
      const int ki = k_[s * m + i];
      if (ki > 0) lower_[s * m + i] = mixed_radix_to_index_[g - stride[i]];
      if (ki < two_j_[i]) raise_[s * m + i] = mixed_radix_to_index_[g + stride[i]];
    }
  }
}

std::int64_t DickeSpace::index(const std::vector<int>& k) const {
  if (static_cast<int>(k.size()) != num_domains()) return kNone;
  std::int64_t g = 0;
  for (int i = 0; i < num_domains(); ++i) {
    if (k[i] < 0 || k[i] > two_j_[i]) return kNone;
    g = g * (two_j_[i] + 1) + k[i];
  }
  return mixed_radix_to_index_[g];
}

double DickeSpace::lower_amplitude(std::int64_t state, int domain) const {
  return lowering_element(two_j_[domain], k(state, domain));
}

double DickeSpace::raise_amplitude(std::int64_t state, int domain) const {
  // <k+1| J^+ |k> = <k| J^- |k+1> = sqrt((k+1)(2j - k)).
  const int kk = k(state, domain);
  return kk < two_j_[domain] ? lowering_element(two_j_[domain], kk + 1) : 0.0;
}

}  // namespace qtraj
