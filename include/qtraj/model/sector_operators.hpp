#pragma once
// Dense real matrices of the collapse channels and of the no-jump generator, restricted to the
// excitation sectors of a DickeSpace (docs/design.md sections 2-4). All matrix elements of J^-+ in
// the Dicke basis are real, so everything here is real.
//
//   C_c = sqrt(rate_c) sum_{i in S_c} J_i^-   (lowering channel: sector n -> n - 1)
//   C_c = sqrt(rate_c) sum_{i in S_c} J_i^+   (raising channel: sector n -> n + 1)
//   K_n = (1/2) sum_c C_c^+ C_c  restricted to sector n (real symmetric positive semi-definite),
//   so that the no-jump evolution is psi' = -K psi and rho' = -(K rho + rho K) + sum_c C rho C^+.
#include <Eigen/Dense>
#include <vector>

#include "qtraj/model/dicke_space.hpp"
#include "qtraj/model/model.hpp"

namespace qtraj {

/// Sector of the image of sector n under channel c (n - 1 or n + 1; may be out of range).
inline int target_sector(const Channel& c, int n) { return c.raising ? n + 1 : n - 1; }

/// The block of C_c mapping sector n to target_sector(c, n): rows = target sector size,
/// cols = sector_size(n). Empty (0 x d_n) if the target sector does not exist.
Eigen::MatrixXd channel_block(const DickeSpace& space, const Channel& channel, int n);

/// K_n = (1/2) sum_c C_c^+ C_c on sector n (d_n x d_n).
Eigen::MatrixXd no_jump_generator(const DickeSpace& space, const std::vector<Channel>& channels,
                                  int n);

/// Eigen-decomposition K_n = V diag(lambda) V^T (ascending lambda, clipped at >= 0).
struct SectorEigen {
  Eigen::VectorXd lambda;
  Eigen::MatrixXd vectors;  // columns are eigenvectors, in sector-local basis order
};
SectorEigen diagonalize_sector(const DickeSpace& space, const std::vector<Channel>& channels,
                               int n);

}  // namespace qtraj
