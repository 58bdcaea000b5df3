#pragma once
// Comparison of a qtraj Result with a case of data/reference/qutip_local.toml (data/README.md,
// "Local decoherence"): the observables the file holds, at every reference time, each with its
// own bound (the exact solver: a fixed tolerance; trajectories: k standard errors). Shared by
// tests/exact/local_reference_test.cpp and tests/trajectory/local_reference_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"
#include "reference_data.hpp"

namespace qtraj::test_local_reference {

using test_data::LocalReferenceCase;

inline const Dataset* find(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return &d;
  return nullptr;
}

inline const std::vector<double>& values(const Result& r, const std::string& path) {
  const Dataset* d = find(r, path);
  if (!d) throw std::runtime_error("result has no dataset " + path);
  return std::get<std::vector<double>>(d->values);
}

/// The largest deviation seen for one observable and where; `ok` is false once a value lies
/// outside its bound.
struct Worst {
  std::string observable;
  double deviation = 0.0;  // largest |qtraj - reference|
  double ratio = 0.0;      // largest |qtraj - reference| / bound
  std::string where;
  int checked = 0;
  bool relative = false;  // the bound scales with max(1, |expected|)
  void add(double got, double expected, double bound, const std::string& at) {
    if (relative) bound *= std::max(1.0, std::abs(expected));
    ++checked;
    const double d = std::abs(got - expected);
    if (!(d <= deviation)) deviation = d;  // NaN propagates
    const double q = d / bound;
    if (!(q <= ratio)) {
      ratio = q;
      where = fmt::format("{}: qtraj {:.10g}, reference {:.10g}, bound {:.3g}", at, got, expected,
                          bound);
    }
  }
};

/// The row of `r` at time t (the reference times lie on the run file's grid).
inline std::size_t row_of(const Result& r, double t) {
  for (std::size_t k = 0; k < r.time.size(); ++k)
    if (std::abs(r.time[k] - t) < 1e-9) return k;
  throw std::runtime_error(fmt::format("time {} is not an output time", t));
}

/// A bound per compared value: `fixed` (>= 0) for a deterministic solver, or `sigmas` times the
/// value's standard error plus `floor` times the range of one trajectory's value (trajectories:
/// the floor covers SE = 0, at t = 0 or for an event no trajectory met; 3 / trajectories is the
/// rule of three, the 95% bound on a probability never observed).
/// `relative`: the fixed bound scales with max(1, |reference|) (PIQS, whose single-precision
/// coefficients give relative errors).
struct Bound {
  double fixed = -1.0;
  bool relative = false;
  double sigmas = 0.0;
  double floor = 0.0;
  double operator()(double stderr_value, double floor_scale = 1.0) const {
    return fixed >= 0.0 ? fixed : sigmas * stderr_value + floor * floor_scale;
  }
};

/// Every observable of `c` present in `r` against the reference at every reference time.
/// `stderrs` = false: the solver gives no standard errors (exact). Observables the reference
/// has and `r` lacks fail, except /populations when `populations` is false (trajectories do not
/// write it). Returns the worst deviation per observable (for the test's record).
inline std::vector<Worst> compare_with_reference(const Result& r, const LocalReferenceCase& c,
                                                 const Bound& bound, bool stderrs,
                                                 bool populations = true) {
  const int m = static_cast<int>(c.spins.size());
  std::vector<Worst> out;
  const auto se_at = [&](const std::string& path, std::size_t index) {
    return stderrs ? values(r, path)[index] : 0.0;
  };
  // <J_i^z>/N_i and <J_i^+ J_i^->.
  const auto make = [&](const std::string& observable) {
    Worst w{observable};
    w.relative = bound.relative;
    return w;
  };
  Worst jz = make("jz_over_n"), jpjm = make("jplus_jminus");
  for (std::size_t q = 0; q < c.times.size(); ++q) {
    const std::size_t k = row_of(r, c.times[q]);
    for (int i = 0; i < m; ++i) {
      const std::string at = fmt::format("t {} domain {}", c.times[q], i + 1);
      jz.add(r.jz_over_n_mean(k, i), c.table("jz_over_n")[q][i],
             bound(stderrs ? r.jz_over_n_stderr(k, i) : 0.0), at);
      const std::size_t idx = k * m + i;
      // <J^+J^-> of one trajectory lies in [0, (N/2)(N/2 + 1)]: the floor scales with it.
      const double h = 0.5 * static_cast<double>(c.spins[i]);
      jpjm.add(values(r, "/jplus_jminus/mean")[idx], c.table("jplus_jminus")[q][i],
               bound(se_at("/jplus_jminus/stderr", idx), h * (h + 1)), at);
    }
  }
  out.push_back(jz);
  out.push_back(jpjm);
  for (int i = 0; i < m; ++i) {
    const std::string d = std::to_string(i + 1);
    // P(k_i): the same columns k = 0..N_i.
    if (populations) {
      Worst pk = make("populations_" + d);
      const auto& got = values(r, "/populations/domain_" + d);
      const std::size_t cols = static_cast<std::size_t>(c.spins[i] + 1);
      EXPECT_EQ(got.size(), r.time.size() * cols) << c.name << " /populations/domain_" << d;
      for (std::size_t q = 0; q < c.times.size(); ++q) {
        const std::size_t k = row_of(r, c.times[q]);
        const auto& ref = c.table("populations_" + d)[q];
        EXPECT_EQ(ref.size(), cols);
        for (std::size_t col = 0; col < cols; ++col)
          pk.add(got[k * cols + col], ref[col], bound(0.0),
                 fmt::format("t {} k {}", c.times[q], col));
      }
      out.push_back(pk);
    }
    // P(j_i): qtraj's column col holds 2j = (N_i mod 2) + 2 col (README, /total_spin); the
    // reference lists 2j explicitly. Columns the reference omits must be zero.
    Worst pj = make("spin_distribution_" + d);
    const auto& got = values(r, "/total_spin/domain_" + d);
    const std::size_t cols = static_cast<std::size_t>(c.spins[i] / 2 + 1);
    EXPECT_EQ(got.size(), r.time.size() * cols) << c.name << " /total_spin/domain_" << d;
    const std::vector<int>& two_j = c.two_j_of(i + 1);
    for (std::size_t q = 0; q < c.times.size(); ++q) {
      const std::size_t k = row_of(r, c.times[q]);
      std::vector<double> ref(cols, 0.0);
      for (std::size_t e = 0; e < two_j.size(); ++e) {
        const int col = (two_j[e] - static_cast<int>(c.spins[i] % 2)) / 2;
        if (col < 0 || col >= static_cast<int>(cols))
          throw std::runtime_error(c.name + ": 2j = " + std::to_string(two_j[e]) + " out of range");
        ref[col] = c.table("spin_distribution_" + d)[q][e];
      }
      for (std::size_t col = 0; col < cols; ++col)
        pj.add(got[k * cols + col], ref[col],
               bound(se_at("/total_spin/stderr_domain_" + d, k * cols + col)),
               fmt::format("t {} 2j {}", c.times[q], static_cast<int>(c.spins[i] % 2 + 2 * col)));
    }
    out.push_back(pj);
  }
  // Net quanta into each reservoir (the exact solver's /emitted_energy/mean; trajectories do not
  // write it).
  if (c.tables.count("emitted_energy") && find(r, "/emitted_energy/mean")) {
    Worst e = make("emitted_energy");
    const auto& got = values(r, "/emitted_energy/mean");
    for (std::size_t q = 0; q < c.times.size(); ++q) {
      const std::size_t k = row_of(r, c.times[q]);
      const auto& ref = c.table("emitted_energy")[q];
      EXPECT_EQ(got.size(), r.time.size() * ref.size());
      for (std::size_t res = 0; res < ref.size(); ++res)
        e.add(got[k * ref.size() + res], ref[res], bound(0.0),
              fmt::format("t {} reservoir {}", c.times[q], res + 1));
    }
    out.push_back(e);
  } else if (c.tables.count("emitted_energy")) {
    EXPECT_TRUE(stderrs) << c.name << ": no /emitted_energy/mean";
  }
  // Local quanta per channel: /local_quanta/mean is n_t x M x 2 (emitted, absorbed); the channels
  // the reference does not name (zero rate) must be zero.
  if (c.tables.count("local_quanta")) {
    Worst lq = make("local_quanta");
    const auto& got = values(r, "/local_quanta/mean");
    EXPECT_EQ(got.size(), r.time.size() * m * 2);
    for (std::size_t q = 0; q < c.times.size(); ++q) {
      const std::size_t k = row_of(r, c.times[q]);
      std::vector<double> ref(static_cast<std::size_t>(m) * 2, 0.0);
      for (std::size_t ch = 0; ch < c.local_channels.size(); ++ch) {
        const std::string& name = c.local_channels[ch];
        const bool emission = name.rfind("emission ", 0) == 0;
        if (!emission && name.rfind("pumping ", 0) != 0)
          throw std::runtime_error(c.name + ": unknown local channel " + name);
        const int domain = std::atoi(name.c_str() + (emission ? 9 : 8));
        if (domain < 1 || domain > m) throw std::runtime_error(c.name + ": channel " + name);
        ref[(domain - 1) * 2 + (emission ? 0 : 1)] = c.table("local_quanta")[q][ch];
      }
      for (std::size_t col = 0; col < ref.size(); ++col) {
        const std::size_t idx = k * m * 2 + col;
        lq.add(got[idx], ref[col], bound(se_at("/local_quanta/stderr", idx)),
               fmt::format("t {} domain {} {}", c.times[q], col / 2 + 1,
                           col % 2 ? "pumping" : "emission"));
      }
    }
    out.push_back(lq);
  }
  for (const Worst& w : out) {
    EXPECT_GT(w.checked, 0) << c.name << " " << w.observable;
    EXPECT_LE(w.ratio, 1.0) << c.name << " " << w.observable << ": worst at " << w.where;
  }
  return out;
}

/// The run file of `c` with `overrides` ("dotted.key=value", as `qtraj run --set`): the parser
/// the CLI uses.
inline RunConfig reference_config(const LocalReferenceCase& c,
                                  const std::vector<std::string>& overrides) {
  return parse_run_config(c.run_file, overrides, "qutip_local.toml " + c.name);
}

/// Records the worst deviations as test properties (visible with --gtest_output=xml).
inline void record(const LocalReferenceCase& c, const std::vector<Worst>& worst) {
  for (const Worst& w : worst)
    ::testing::Test::RecordProperty(c.name + "." + w.observable,
                                    fmt::format("{:.3g} ({:.3g} of the bound)", w.deviation, w.ratio));
}

}  // namespace qtraj::test_local_reference
