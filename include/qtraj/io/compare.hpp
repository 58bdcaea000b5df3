#pragma once
// Statistical comparison of two results on the same time grid (`qtraj compare`).
// Per domain and time: z = |mean_A - mean_B| / sqrt(se_A^2 + se_B^2) for <J_i^z>/N_i.
// Where both standard errors vanish (deterministic results, or t = 0 of a basis state)
// the absolute difference is compared with abs_tolerance instead.
#include <string>
#include <vector>

#include "qtraj/io/result.hpp"

namespace qtraj {

struct DomainDeviation {
  double max_sigmas = 0.0;       // largest z over times with a non-zero combined stderr
  double time_of_max = 0.0;
  double max_abs_difference = 0.0;
  double time_of_max_abs = 0.0;
  bool within = true;            // verdict for this domain
};

struct Comparison {
  std::vector<DomainDeviation> domains;
  bool stochastic = false;  // at least one side carries standard errors
  bool passed = true;
};

/// Throws InputError if the grids or domain counts differ.
Comparison compare_results(const Result& a, const Result& b, double sigma_threshold,
                           double abs_tolerance);

}  // namespace qtraj
