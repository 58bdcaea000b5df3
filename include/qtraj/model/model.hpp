#pragma once
// The physical model of docs/design.md section 1: M domains of N_i spin-1/2, reservoirs that
// couple sets of domains collectively, and a per-domain initial state.
#include <complex>
#include <string>
#include <vector>

namespace qtraj {

/// Initial state of one domain (run-file syntax in parentheses).
///  excited ("excited"), ground ("ground"), Dicke |j=N/2, m=K-N/2> ("dicke K"),
///  K of N spins up, the rest down ("product K": the mixture over j of docs/design.md section 2),
///  spin coherent state ("coherent THETA PHI"): every spin cos(theta/2)|up> + e^{i phi} sin(theta/2)|down>,
///  so theta = 0 is fully excited and theta = pi the ground state.
struct InitialState {
  enum class Kind { excited, ground, dicke, product, coherent };
  Kind kind = Kind::ground;
  long long k = 0;     // dicke / product: number of excitations
  double theta = 0.0;  // coherent
  double phi = 0.0;    // coherent

  /// Parses the run-file text; `field` names it in errors. Throws InputError.
  static InitialState parse(const std::string& text, long long n_spins, const std::string& field);
  std::string to_string() const;
};

/// One reservoir: L_r^- = sum_{i in domains} J_i^-, rates gamma (nbar+1) down and gamma nbar up.
struct Reservoir {
  std::vector<int> domains;  // 0-based domain indices
  double gamma = 1.0;
  double nbar = 0.0;
};

/// One run-file [[local]] table: processes acting on every spin of the listed domains
/// (docs/local.md), with QuTiP PIQS's conventions: per spin s,
///   emission  g_e D[s^-],  pumping  g_p D[s^+],  dephasing  (g_phi / 4) D[s^z]  (s^z Pauli),
/// D[O] rho = O rho O^+ - {O^+ O, rho} / 2. Several tables may name one domain: rates add.
struct LocalTable {
  std::vector<int> domains;  // 0-based domain indices (the run file omits the key: every domain)
  double emission = 0.0;
  double pumping = 0.0;
  double dephasing = 0.0;
};

/// The summed local rates of one domain.
struct LocalRates {
  double emission = 0.0;
  double pumping = 0.0;
  double dephasing = 0.0;
  bool any() const { return emission > 0.0 || pumping > 0.0 || dephasing > 0.0; }
};

struct Model {
  std::vector<long long> spins;        // N_i
  std::vector<InitialState> initial;   // one per domain
  std::vector<Reservoir> reservoirs;   // empty means: use default_chain
  std::vector<LocalTable> local;       // the [[local]] tables, in run-file order

  int num_domains() const { return static_cast<int>(spins.size()); }
  /// The paper's chain: reservoirs (1,2), (2,3), ... with gamma = 1, nbar = 0.
  static std::vector<Reservoir> default_chain(int num_domains);
  /// Throws InputError naming the field ("system.domains[2]", "reservoir[1].gamma",
  /// "local[1].dephasing", ...).
  void validate() const;
  /// Per domain (num_domains() entries), the sum of the rates of every [[local]] table naming it.
  std::vector<LocalRates> local_rates() const;
  /// True if some domain has a positive local rate. When false every solver runs the collective
  /// model exactly as without [[local]] tables (bit for bit).
  bool has_local() const;
};

/// A collapse channel C_c = sqrt(rate) * sum_{i in domains} J_i^{-/+}.
struct Channel {
  int reservoir = 0;       // index into Model::reservoirs
  bool raising = false;    // false: L_r^- with rate gamma (nbar+1); true: L_r^+ with rate gamma nbar
  double rate = 0.0;
  std::vector<int> domains;
};

/// All channels with a non-zero rate, lowering channels first in reservoir order, then raising.
std::vector<Channel> collapse_channels(const Model& model);

/// One pure component of a domain's initial state in a fixed-j Dicke space:
/// amplitudes[k] = <j, k - j | psi>, k = 0..two_j, normalised, weight = its probability.
struct DomainComponent {
  double weight = 1.0;
  int two_j = 0;
  std::vector<std::complex<double>> amplitudes;
};

/// The initial state of one domain as a mixture of pure fixed-j components
/// (one component except for "product K", which is the mixture over j = |m|..N/2
/// with weights d_j / C(N, K)). Throws InputError if N is too large for a Dicke basis.
std::vector<DomainComponent> initial_components(const InitialState& state, long long n_spins);
/// The size check initial_components starts with (InputError "too many spins ..."), alone: the
/// run bounds (include/qtraj/bounds/run_bounds.hpp) call it before estimating anything.
void check_initial_state_size(const InitialState& state, long long n_spins);

}  // namespace qtraj
