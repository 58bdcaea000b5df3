#pragma once
// The product Dicke basis of docs/design.md section 2 for fixed total spins j_i.
//
// Basis state |k_1, ..., k_M> = |j_1, k_1 - j_1> x ... x |j_M, k_M - j_M>, k_i in 0..2 j_i.
// States are ordered by total excitation n = sum k_i (sector n occupies the index range
// [sector_begin(n), sector_begin(n) + sector_size(n))), then lexicographically in (k_1..k_M).
// J_i^- |k> = sqrt(k_i (2 j_i - k_i + 1)) |k - e_i>,  J_i^+ |k> = sqrt((k_i + 1)(2 j_i - k_i)) |k + e_i>,
// J_i^z |k> = (k_i - j_i) |k>.
// The tables are flat arrays so device code can index them with raw pointers.
#include <cmath>
#include <cstdint>
#include <vector>

namespace qtraj {

class DickeSpace {
 public:
  static constexpr std::int64_t kNone = -1;
  /// two_j[i] = 2 j_i >= 0. Throws InputError if the dimension exceeds max_dim.
  explicit DickeSpace(std::vector<int> two_j, std::int64_t max_dim = 50'000'000);

  int num_domains() const { return static_cast<int>(two_j_.size()); }
  std::int64_t dim() const { return dim_; }
  int two_j(int domain) const { return two_j_[domain]; }
  const std::vector<int>& two_js() const { return two_j_; }
  int max_excitation() const { return max_n_; }

  std::int64_t sector_begin(int n) const { return sector_offset_[n]; }
  std::int64_t sector_size(int n) const { return sector_offset_[n + 1] - sector_offset_[n]; }
  /// Total excitation of a state.
  int excitation(std::int64_t state) const { return total_[state]; }
  /// k_i of a state.
  int k(std::int64_t state, int domain) const { return k_[state * two_j_.size() + domain]; }
  /// Index of |k_1..k_M>, or kNone if some k_i is out of range.
  std::int64_t index(const std::vector<int>& k) const;

  /// Index of J_i^- |state> (kNone if k_i = 0) and its matrix element.
  std::int64_t lowered(std::int64_t state, int domain) const {
    return lower_[state * two_j_.size() + domain];
  }
  double lower_amplitude(std::int64_t state, int domain) const;
  /// Index of J_i^+ |state> (kNone if k_i = 2 j_i) and its matrix element.
  std::int64_t raised(std::int64_t state, int domain) const {
    return raise_[state * two_j_.size() + domain];
  }
  double raise_amplitude(std::int64_t state, int domain) const;

  // Flat tables (dim x M, row-major) for device code.
  const std::vector<int>& k_table() const { return k_; }
  const std::vector<std::int64_t>& lower_table() const { return lower_; }
  const std::vector<std::int64_t>& raise_table() const { return raise_; }
  const std::vector<std::int64_t>& sector_offsets() const { return sector_offset_; }

 private:
  std::vector<int> two_j_;
  std::int64_t dim_ = 0;
  int max_n_ = 0;
  std::vector<std::int64_t> sector_offset_;  // size max_n + 2
  std::vector<int> k_;                       // dim x M
  std::vector<int> total_;                   // dim
  std::vector<std::int64_t> lower_, raise_;  // dim x M
  std::vector<std::int64_t> mixed_radix_to_index_;  // full mixed-radix index -> ordered index
};

/// Matrix element of J^- on |j, k - j> (k excitations in a spin-j): sqrt(k (2j - k + 1)).
inline double lowering_element(int two_j, int k) {
  return std::sqrt(static_cast<double>(k) * static_cast<double>(two_j - k + 1));
}

}  // namespace qtraj
