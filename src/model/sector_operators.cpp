// Per-sector dense matrices of the collapse channels and of K_n (see sector_operators.hpp).
#include "qtraj/model/sector_operators.hpp"

#include <cmath>

namespace qtraj {

Eigen::MatrixXd channel_block(const DickeSpace& space, const Channel& channel, int n) {
  const int target = target_sector(channel, n);
  const std::int64_t d_n = space.sector_size(n);
  if (target < 0 || target > space.max_excitation()) return Eigen::MatrixXd(0, d_n);
  const std::int64_t begin = space.sector_begin(n), target_begin = space.sector_begin(target);
  Eigen::MatrixXd block = Eigen::MatrixXd::Zero(space.sector_size(target), d_n);
  const double scale = std::sqrt(channel.rate);
  for (std::int64_t b = 0; b < d_n; ++b) {
    const std::int64_t state = begin + b;
    for (int domain : channel.domains) {
      const std::int64_t to = channel.raising ? space.raised(state, domain)
                                              : space.lowered(state, domain);
      if (to == DickeSpace::kNone) continue;
      const double amp = channel.raising ? space.raise_amplitude(state, domain)
                                         : space.lower_amplitude(state, domain);
      block(to - target_begin, b) += scale * amp;
    }
  }
  return block;
}

Eigen::MatrixXd no_jump_generator(const DickeSpace& space, const std::vector<Channel>& channels,
                                  int n) {
  const std::int64_t d_n = space.sector_size(n);
  Eigen::MatrixXd k = Eigen::MatrixXd::Zero(d_n, d_n);
  for (const auto& c : channels) {
    const Eigen::MatrixXd block = channel_block(space, c, n);
    if (block.rows() > 0) k.noalias() += 0.5 * block.transpose() * block;
  }
  return k;
}

SectorEigen diagonalize_sector(const DickeSpace& space, const std::vector<Channel>& channels,
                               int n) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(no_jump_generator(space, channels, n));
  SectorEigen out;
  out.lambda = solver.eigenvalues().cwiseMax(0.0);
  out.vectors = solver.eigenvectors();
  return out;
}

}  // namespace qtraj
