#include "qtraj/io/result.hpp"

namespace qtraj {

void Result::resize(std::size_t n_t, std::size_t n_domains) {
  jz_over_n_mean = Table(n_t, n_domains);
  jz_over_n_stderr = Table(n_t, n_domains);
  excitations_mean = Table(n_t, n_domains);
  excitations_stderr = Table(n_t, n_domains);
}

}  // namespace qtraj
