#pragma once
// Shared by the DenseDevice tests (tests/exact/dense_device_test.cpp: a host device;
// tests/backend/cuda/exact_cublas_cuda_test.cpp: cuBLAS): the validation systems
// ((12,6,2) and (8,6,5,1) chains, a thermal star), one time evolution of each with the
// given dense kernels, and the comparison of two evolutions.
#include <algorithm>
#include <complex>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "qtraj/exact/dense_device.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/exact/esdirk.hpp"
#include "qtraj/exact/sector_system.hpp"
#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj::exact::testing {

struct EvolutionCase {
  std::string name;
  std::vector<int> two_j;  // all spins symmetric: two_j = N
  std::vector<Reservoir> reservoirs;
  double t_end;
};

/// The first domain excited, the rest in the ground state; 41 linear output times.
inline std::vector<EvolutionCase> device_validation_cases() {
  return {
      {"(12,6,2) chain", {12, 6, 2}, {Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{1, 2}, 1.0, 0.0}},
       1000.0},
      {"(8,6,5,1) chain", {8, 6, 5, 1},
       {Reservoir{{0, 1}, 1.0, 0.0}, Reservoir{{1, 2}, 1.0, 0.0}, Reservoir{{2, 3}, 1.0, 0.0}},
       50.0},
      {"(6,3,2) thermal star", {6, 3, 2},
       {Reservoir{{0, 1, 2}, 1.0, 0.3}, Reservoir{{1, 2}, 0.7, 0.1}}, 20.0},
  };
}

/// Per output time: the populations of the Dicke basis, then the exchanged quanta per channel.
struct Evolution {
  std::vector<Eigen::VectorXd> rows;
  std::int64_t steps = 0;
};

/// One evolution of `cs` at rtol 1e-8, atol 1e-10 with the given kernels (and device).
inline Evolution evolve_case(const EvolutionCase& cs, DenseKernels kernels,
                             std::shared_ptr<DenseDevice> device = nullptr) {
  Model model;
  model.spins.assign(cs.two_j.begin(), cs.two_j.end());
  model.reservoirs = cs.reservoirs;
  const auto channels = collapse_channels(model);
  const DickeSpace space(cs.two_j);
  std::vector<std::complex<double>> psi(static_cast<std::size_t>(space.dim()), 0.0);
  std::vector<int> k(cs.two_j.size(), 0);
  k[0] = cs.two_j[0];
  psi[static_cast<std::size_t>(space.index(k))] = 1.0;
  std::vector<double> times;
  for (int i = 0; i <= 40; ++i) times.push_back(cs.t_end * i / 40.0);
  const SectorSystem system(space, channels, kernels, std::move(device));
  Evolution out;
  const auto stats = integrate(system, system.initial_state(psi), times, 1e-8, 1e-10,
                               [&](std::size_t, const Eigen::VectorXd& y) {
                                 const Eigen::VectorXd e = system.exchanged(y);
                                 Eigen::VectorXd row(space.dim() + e.size());
                                 row << system.populations(y), e;
                                 out.rows.push_back(row);
                               });
  out.steps = stats.steps;
  return out;
}

/// max over output times of max|got - ref| / max(1, max|ref|); infinity if the lengths differ.
inline double max_relative_difference(const Evolution& got, const Evolution& ref) {
  if (got.rows.size() != ref.rows.size()) return 1.0 / 0.0;
  double worst = 0.0;
  for (std::size_t i = 0; i < ref.rows.size(); ++i) {
    if (got.rows[i].size() != ref.rows[i].size()) return 1.0 / 0.0;
    worst = std::max(worst, (got.rows[i] - ref.rows[i]).cwiseAbs().maxCoeff() /
                                std::max(1.0, ref.rows[i].cwiseAbs().maxCoeff()));
  }
  return worst;
}

}  // namespace qtraj::exact::testing
