// Welford / Chan streaming statistics (see include/qtraj/trajectory/aggregator.hpp). The arithmetic
// is welford.hpp's, shared with the CUDA backend's device-side chunk reduction (bit-identical).
#include "qtraj/trajectory/aggregator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "qtraj/trajectory/welford.hpp"

namespace qtraj::trajectory {

void Aggregator::add(const double* values) {
  ++count_;
  const double inv_n = welford::inverse_count(count_);
  for (std::size_t i = 0; i < mean_.size(); ++i) welford::add_sample(values[i], inv_n, mean_[i], m2_[i]);
}

void Aggregator::merge(const Aggregator& other) {
  if (other.size() != size()) throw std::invalid_argument("Aggregator::merge: sizes differ");
  if (other.count_ == 0) return;
  if (count_ == 0) {
    *this = other;
    return;
  }
  const double na = static_cast<double>(count_), nb = static_cast<double>(other.count_);
  for (std::size_t i = 0; i < mean_.size(); ++i)
    welford::merge(na, nb, other.mean_[i], other.m2_[i], mean_[i], m2_[i]);
  count_ += other.count_;
}

double Aggregator::variance(std::size_t i) const {
  return count_ < 2 ? 0.0 : std::max(0.0, m2_[i]) / static_cast<double>(count_ - 1);
}

double Aggregator::standard_error(std::size_t i) const {
  return count_ < 2 ? 0.0 : std::sqrt(variance(i) / static_cast<double>(count_));
}

Aggregator Aggregator::from_state(std::int64_t count, std::vector<double> means,
                                  std::vector<double> m2) {
  if (means.size() != m2.size()) throw std::invalid_argument("Aggregator::from_state: sizes differ");
  Aggregator a;
  a.count_ = count;
  a.mean_ = std::move(means);
  a.m2_ = std::move(m2);
  return a;
}

}  // namespace qtraj::trajectory
