#pragma once
// Streaming mean and standard error of a fixed number of values per trajectory (host code).
// Welford's update per sample and Chan, Golub & LeVeque's pairwise merge:
//   add x:      n += 1, delta = x - mean, mean += delta / n, M2 += delta (x - mean)
//   merge A, B: n = nA + nB, delta = mean_B - mean_A, mean = mean_A + delta nB / n,
//               M2 = M2_A + M2_B + delta^2 nA nB / n
// Stable at 10^9 samples (no large sums of squares), and mergeable across chunks, threads, shards
// and MPI ranks. Deterministic: the result depends only on the order of add/merge calls.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qtraj::trajectory {

class Aggregator {
 public:
  explicit Aggregator(std::size_t num_values = 0) : mean_(num_values, 0.0), m2_(num_values, 0.0) {}

  std::size_t size() const { return mean_.size(); }
  std::int64_t count() const { return count_; }

  /// Adds one sample: values[0 .. size()).
  void add(const double* values);
  /// Merges another aggregator of the same size (as if its samples were added after ours).
  void merge(const Aggregator& other);

  double mean(std::size_t i) const { return mean_[i]; }
  /// Sample variance M2 / (n - 1) (0 for n < 2).
  double variance(std::size_t i) const;
  /// Standard error of the mean sqrt(variance / n) (0 for n < 2).
  double standard_error(std::size_t i) const;

  /// Raw state, for serialisation across ranks: count, means, M2 (sum of squared deviations).
  const std::vector<double>& means() const { return mean_; }
  const std::vector<double>& m2() const { return m2_; }
  static Aggregator from_state(std::int64_t count, std::vector<double> means, std::vector<double> m2);

 private:
  std::int64_t count_ = 0;
  std::vector<double> mean_, m2_;
};

}  // namespace qtraj::trajectory
