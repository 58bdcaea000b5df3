#!/usr/bin/env python3
"""Reference numbers for local decoherence (docs/local.md): data/reference/qutip_local.toml.

Independent of qtraj. Two parts:

1. Full 2^N tensor-product space (no Dicke reduction, no symmetry used), N <= 8 spins in all.
   Per spin k of domain i, with D[O] rho = O rho O^+ - {O^+ O, rho}/2:
       emission   g_e D[s_k^-],   pumping   g_p D[s_k^+],   dephasing   (g_phi / 4) D[s_k^z]
   (s^z the Pauli matrix, QuTiP PIQS's conventions), plus the collective reservoirs
   gamma (nbar + 1) D[L_r^-] + gamma nbar D[L_r^+], L_r^- = sum_{i in r} J_i^-; H = 0.
   qutip.mesolve at atol = rtol = 1e-12 on an AUGMENTED state X = |0><0| (x) rho + |1><1| (x) Q,
   dQ/dt = rho, so Q(t) = int_0^t rho and the emitted quanta are expectation values of X:
       reservoir r (net, as /emitted_energy/mean): gamma (nbar+1) int <L_r^+ L_r^-> - gamma nbar int <L_r^- L_r^+>
       local emission on domain i:  g_e int <J_i^z + N_i/2>   (quanta the spins emit)
       local pumping on domain i:   g_p int <N_i/2 - J_i^z>   (quanta the spins absorb)
       local dephasing: no energy.
   Per case and per time: <J_i^z>/N_i, <J_i^+ J_i^->, P(k_i) (k_i excited spins in domain i),
   P(j_i) (projectors onto the eigenspaces of J_i^2), the quanta above. The script checks the
   excitation balance  n(t) - n(0) = -sum_r emitted_r - sum emission_i + sum pumping_i  and
   Tr rho = 1 before it writes anything. Cases without pumping and nbar also get their t = inf
   values (mesolve to T = 4000, checked against T = 2000).

2. QuTiP PIQS (qutip.piqs.Dicke: one domain, the Dicke basis with its j-blocks) for N = 20, 30,
   40, one local process at a time plus collective emission (a reservoir with domains = [1]),
   from the excited state: <J^z>/N, <J^+ J^->, P(j) (trace of PIQS's block j, which carries the
   degeneracy d_j) and P(k). Before using PIQS the script checks its rate conventions against
   part 1 at N = 4 (emission, pumping, dephasing alone) and stops if they differ by > 1e-6 (PIQS
   builds its Liouvillian in C single precision, `cdef float` in qutip/piqs/_piqs.pyx: at N = 4
   with emission 0.3 its trace drifts by 4.7e-8; the rates used here are binary fractions so that
   at least they reach PIQS unrounded, and each case records its trace error).

Run (the venv outside the repository holds QuTiP 5; data/README.md has the run time):
    python3 -m venv ~/venv-ref && ~/venv-ref/bin/pip install qutip     (outside the repository)
    ~/venv-ref/bin/python scripts/reference/qutip_local.py
Options: --only NAME[,NAME] (full-space cases only, printed, nothing written), --time-piqs
(the speed baseline of bench/RESULTS.md: PIQS at N = 40 with every local process to t = 10,
default and tight tolerances; prints the seconds, writes nothing).
Spin convention: basis(2, 0) = |up> = excited, sigmaz |up> = +|up>.
"""
import itertools
import os
import sys
import time

import numpy as np
import qutip
from qutip import piqs

UP = qutip.basis(2, 0)
DOWN = qutip.basis(2, 1)
TIMES = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0]
GRID_STEP = 0.1  # every time above is a multiple of it: a test solves on 0 .. 40 with 401 points
T_INF, T_INF_CHECK = 4000.0, 2000.0
# BDF: 5x faster than Adams here (the decay rates make the systems stiff); the two agree to 4e-10
# on coherent_3_2. normalize_output must be off: the augmented state's trace is not 1.
OPTS = {"atol": 1e-12, "rtol": 1e-12, "nsteps": 10**8, "normalize_output": False, "method": "bdf"}


# ---------------------------------------------------------------------------------------------
# Cases. Domains are 0-based here; the run-file text written with each case is 1-based.
# reservoirs: (domains, gamma, nbar). local: list of tables (domains or None = every domain,
# {process: rate}), exactly the run file's [[local]] tables; rates of tables naming the same
# domain add.
def chain(m, gamma=1.0, nbar=0.0):
    return [([r, r + 1], gamma, nbar) for r in range(m - 1)]


CASES = [
    # (name, spins, initial (run-file strings), reservoirs, local tables)
    ("emission_3_2", [3, 2], ["excited", "ground"], chain(2), [(None, {"emission": 0.2})]),
    ("pumping_3_2", [3, 2], ["excited", "ground"], chain(2), [(None, {"pumping": 0.1})]),
    ("dephasing_3_2", [3, 2], ["excited", "ground"], chain(2), [(None, {"dephasing": 0.4})]),
    ("mixed_3_2", [3, 2], ["excited", "ground"], chain(2),
     [(None, {"emission": 0.1, "pumping": 0.05, "dephasing": 0.3})]),
    ("chain_2_2_2", [2, 2, 2], ["excited", "ground", "ground"], chain(3),
     [(None, {"emission": 0.05, "dephasing": 0.2})]),
    ("star_3_1_1", [3, 1, 1], ["excited", "ground", "ground"], [([0, 1, 2], 0.7, 0.0)],
     [([0], {"dephasing": 0.5}), ([2], {"emission": 0.1})]),
    ("thermal_pumping_2_2", [2, 2], ["excited", "ground"], [([0, 1], 1.0, 0.3)],
     [([1], {"pumping": 0.1}), (None, {"emission": 0.05})]),
    ("thermal_ground_2_2", [2, 2], ["ground", "ground"], [([0, 1], 1.0, 0.3)],
     [([1], {"pumping": 0.2, "dephasing": 0.1})]),
    ("subset_4_2", [4, 2], ["excited", "ground"], chain(2), [([1], {"emission": 0.3})]),
    ("dicke_4_2", [4, 2], ["dicke 2", "ground"], chain(2), [(None, {"dephasing": 0.3})]),
    ("product_dark_3_1", [3, 1], ["product 1", "ground"], chain(2), [([1], {"emission": 0.2})]),
    ("product_4_2", [4, 2], ["product 2", "ground"], chain(2),
     [(None, {"emission": 0.05, "dephasing": 0.2})]),
    ("coherent_3_2", [3, 2], ["coherent 1.0 0.3", "coherent 2.0 1.1"], chain(2),
     [(None, {"emission": 0.1, "pumping": 0.05, "dephasing": 0.2})]),
    ("additive_3_2", [3, 2], ["excited", "ground"], chain(2),
     [([0, 1], {"emission": 0.1}), ([1], {"emission": 0.05, "dephasing": 0.2}),
      (None, {"dephasing": 0.1})]),
    ("cutoff_2_2_2", [2, 2, 2], ["excited", "ground", "product 1"],
     [([0, 1], 1.0, 0.0), ([2], 1.0, 0.0)], [([0], {"emission": 0.2})]),
    ("single_4_emission", [4], ["excited"], [([0], 1.0, 0.0)], [(None, {"emission": 0.3})]),
    ("single_4_pumping", [4], ["excited"], [([0], 1.0, 0.0)], [(None, {"pumping": 0.3})]),
    ("single_4_dephasing", [4], ["excited"], [([0], 1.0, 0.0)], [(None, {"dephasing": 0.3})]),
    ("mixed_5_3", [5, 3], ["excited", "ground"], chain(2),
     [(None, {"emission": 0.05, "pumping": 0.02, "dephasing": 0.1})]),
]
PROCESSES = ("emission", "pumping", "dephasing")
PIQS_SIZES = [20, 30, 40]
# With collective emission 1.0. Binary fractions: PIQS builds its Liouvillian in C single precision
# (`cdef float` in qutip/piqs/_piqs.pyx), so these at least reach it unrounded.
PIQS_RATES = {"emission": 0.25, "pumping": 0.125, "dephasing": 0.25}


def domain_rates(spins, tables):
    """Per domain {process: summed rate} (tables naming the same domain add)."""
    rates = [{p: 0.0 for p in PROCESSES} for _ in spins]
    for domains, procs in tables:
        for i in (range(len(spins)) if domains is None else domains):
            for p, g in procs.items():
                rates[i][p] += g
    return rates


def run_file(spins, initial, reservoirs, tables):
    """The run-file text of a case: parse it, solve on 0 .. 40 with 401 points."""
    q = lambda s: '"%s"' % s
    lines = ["[system]", "domains = [%s]" % ", ".join(map(str, spins)),
             "initial = [%s]" % ", ".join(q(s) for s in initial)]
    for domains, gamma, nbar in reservoirs:
        lines += ["[[reservoir]]", "domains = [%s]" % ", ".join(str(d + 1) for d in domains),
                  "gamma = %r" % gamma, "nbar = %r" % nbar]
    for domains, procs in tables:
        lines.append("[[local]]")
        if domains is not None:
            lines.append("domains = [%s]" % ", ".join(str(d + 1) for d in domains))
        lines += ["%s = %r" % (p, g) for p, g in procs.items()]
    lines += ["[time]", "end = %r" % TIMES[-1], "points = %d" % (round(TIMES[-1] / GRID_STEP) + 1)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Full space.
def spin_states(kind, n):
    """Kets of one domain's n spins for a run-file initial-state string."""
    w = kind.split()
    if w[0] == "excited":
        return qutip.tensor([UP] * n)
    if w[0] == "ground":
        return qutip.tensor([DOWN] * n)
    if w[0] == "product":  # the first K spins up (any fixed choice: the observables are symmetric)
        k = int(w[1])
        return qutip.tensor([UP] * k + [DOWN] * (n - k))
    if w[0] == "dicke":  # |j = n/2, m = K - n/2>: the normalised symmetric sum
        k = int(w[1])
        psi = 0
        for ups in itertools.combinations(range(n), k):
            psi = psi + qutip.tensor([UP if s in ups else DOWN for s in range(n)])
        return psi.unit()
    if w[0] == "coherent":
        theta, phi = float(w[1]), float(w[2])
        s = np.cos(theta / 2) * UP + np.exp(1j * phi) * np.sin(theta / 2) * DOWN
        return qutip.tensor([s] * n)
    raise ValueError(kind)


def embed(ops_per_domain, spins):
    """tensor of per-domain operators (None = identity)."""
    return qutip.tensor([o if o is not None else qutip.qeye([2] * n)
                         for o, n in zip(ops_per_domain, spins)])


def domain_op(i, op, spins):
    ops = [None] * len(spins)
    ops[i] = op
    return embed(ops, spins)


def one_spin(op, k, n):
    return qutip.tensor([op if s == k else qutip.qeye(2) for s in range(n)])


def two_j_values(n):
    return list(range(n % 2, n + 1, 2))


def total_spin_projectors(n):
    """Projectors of one domain's 2^n space onto the J^2 eigenspaces, ascending 2j."""
    jx = sum(one_spin(qutip.sigmax(), k, n) for k in range(n)) / 2
    jy = sum(one_spin(qutip.sigmay(), k, n) for k in range(n)) / 2
    jz = sum(one_spin(qutip.sigmaz(), k, n) for k in range(n)) / 2
    j2 = (jx * jx + jy * jy + jz * jz).full()
    vals, vecs = np.linalg.eigh(j2)
    out = []
    for tj in two_j_values(n):
        sel = np.abs(vals - tj / 2 * (tj / 2 + 1)) < 1e-8
        v = vecs[:, sel]
        out.append(qutip.Qobj(v @ v.conj().T, dims=[[2] * n, [2] * n]))
    assert abs(sum(np.trace(p.full()).real for p in out) - 2 ** n) < 1e-9
    return out


def excitation_projectors(n):
    """Projectors onto k = 0..n excited spins of one domain (diagonal in the product basis)."""
    diag = np.array([n - bin(b).count("1") for b in range(2 ** n)])  # bit 1 = basis(2,1) = down
    return [qutip.Qobj(np.diag((diag == k).astype(float)), dims=[[2] * n, [2] * n])
            for k in range(n + 1)]


def solve_full_space(spins, initial, reservoirs, tables, times):
    """All observables of one case at `times` (dict of arrays, rows = times)."""
    m = len(spins)
    rates = domain_rates(spins, tables)
    jm = [sum(one_spin(qutip.sigmam(), k, n) for k in range(n)) for n in spins]
    jz = [sum(one_spin(qutip.sigmaz(), k, n) for k in range(n)) / 2 for n in spins]
    JM = [domain_op(i, jm[i], spins) for i in range(m)]
    JZ = [domain_op(i, jz[i], spins) for i in range(m)]
    c_ops = []
    for domains, gamma, nbar in reservoirs:
        lr = sum(JM[i] for i in domains)
        c_ops.append(np.sqrt(gamma * (nbar + 1)) * lr)
        if nbar > 0:
            c_ops.append(np.sqrt(gamma * nbar) * lr.dag())
    for i, n in enumerate(spins):
        for proc, op, scale in (("emission", qutip.sigmam(), 1.0), ("pumping", qutip.sigmap(), 1.0),
                                ("dephasing", qutip.sigmaz(), 0.25)):
            g = rates[i][proc]
            if g > 0:
                c_ops += [np.sqrt(g * scale) * domain_op(i, one_spin(op, k, n), spins)
                          for k in range(n)]
    psi0 = qutip.tensor([spin_states(s, n) for s, n in zip(initial, spins)])
    rho0 = psi0 * psi0.dag()

    # Augmented generator: the rho block evolves under the Lindbladian, Q' = rho.
    p0 = qutip.basis(2, 0) * qutip.basis(2, 0).dag()
    p1 = qutip.basis(2, 1) * qutip.basis(2, 1).dag()
    t10 = qutip.basis(2, 1) * qutip.basis(2, 0).dag()
    ident = qutip.qeye(rho0.dims[0])
    aug = qutip.sprepost(qutip.tensor(t10, ident), qutip.tensor(t10.dag(), ident))
    for c in c_ops:
        a, cdc = qutip.tensor(p0, c), qutip.tensor(p0, c.dag() * c)
        aug = aug + qutip.sprepost(a, a.dag()) - 0.5 * qutip.spre(cdc) - 0.5 * qutip.spost(cdc)
    x0 = qutip.tensor(p0, rho0)

    e_ops, keys = [], []

    def add(key, op, integral=False):
        e_ops.append(qutip.tensor(p1 if integral else p0, op))
        keys.append(key)

    add(("trace",), ident)
    for i, n in enumerate(spins):
        add(("jz", i), JZ[i] / n)
        add(("jpjm", i), JM[i].dag() * JM[i])
        for k, p in enumerate(excitation_projectors(n)):
            add(("pk", i, k), domain_op(i, p, spins))
        for a, p in enumerate(total_spin_projectors(n)):
            add(("pj", i, a), domain_op(i, p, spins))
        add(("int_n", i), JZ[i] + n / 2 * ident, True)
    for r, (domains, gamma, nbar) in enumerate(reservoirs):
        lr = sum(JM[i] for i in domains)
        add(("int_lplm", r), lr.dag() * lr, True)
        add(("int_lmlp", r), lr * lr.dag(), True)
    out = qutip.mesolve(aug, x0, times, e_ops=e_ops, options=OPTS)
    ev = {k: np.real(np.array(v)) for k, v in zip(keys, out.expect)}

    res = {"jz_over_n": np.array([ev[("jz", i)] for i in range(m)]).T,
           "jplus_jminus": np.array([ev[("jpjm", i)] for i in range(m)]).T,
           "populations": [np.array([ev[("pk", i, k)] for k in range(n + 1)]).T
                           for i, n in enumerate(spins)],
           "spin_distribution": [np.array([ev[("pj", i, a)] for a in range(len(two_j_values(n)))]).T
                                 for i, n in enumerate(spins)]}
    res["emitted_energy"] = np.array(
        [gamma * (nbar + 1) * ev[("int_lplm", r)] - gamma * nbar * ev[("int_lmlp", r)]
         for r, (_, gamma, nbar) in enumerate(reservoirs)]).T.reshape(len(times), len(reservoirs))
    channels, cols = [], []
    for i, n in enumerate(spins):
        if rates[i]["emission"] > 0:
            channels.append("emission %d" % (i + 1))
            cols.append(rates[i]["emission"] * ev[("int_n", i)])
        if rates[i]["pumping"] > 0:
            channels.append("pumping %d" % (i + 1))
            cols.append(rates[i]["pumping"] * (n * np.asarray(times) - ev[("int_n", i)]))
    res["local_channels"] = channels
    res["local_quanta"] = np.array(cols).T.reshape(len(times), len(channels))

    # Self-checks: trace, P(k) and P(j) sum to 1, excitations balance the quanta.
    assert np.max(np.abs(ev[("trace",)] - 1)) < 1e-9, ("trace", ev[("trace",)])
    for i in range(m):
        assert np.max(np.abs(res["populations"][i].sum(axis=1) - 1)) < 1e-9
        assert np.max(np.abs(res["spin_distribution"][i].sum(axis=1) - 1)) < 1e-9
    n_exc = sum((res["jz_over_n"][:, i] + 0.5) * n for i, n in enumerate(spins))
    signed = [(-1.0 if c.startswith("pumping") else 1.0) for c in channels]
    lost = res["emitted_energy"].sum(axis=1) + (res["local_quanta"] * signed).sum(axis=1)
    balance = np.max(np.abs(n_exc - n_exc[0] + lost))
    assert balance < 1e-8, "excitation balance %g" % balance
    res["balance"] = balance
    return res


def has_steady(reservoirs, tables, spins):
    rates = domain_rates(spins, tables)
    return all(nbar == 0 for _, _, nbar in reservoirs) and all(r["pumping"] == 0 for r in rates)


# ---------------------------------------------------------------------------------------------
# PIQS.
def solve_piqs(n, process, rate, times):
    """One domain, excited, PIQS's Liouvillian with collective emission 1 and one local process."""
    system = piqs.Dicke(n, collective_emission=1.0, **{process: rate})
    return solve_piqs_system(n, system, times)


def solve_piqs_system(n, system, times):
    liou = system.liouvillian()
    rho0 = piqs.excited(n)
    nds = piqs.num_dicke_states(n)
    # PIQS's Dicke basis: blocks from j = n/2 down, inside a block m = j .. -j.
    labels = [(j2, m2) for j2 in range(n, n % 2 - 1, -2) for m2 in range(j2, -j2 - 1, -2)]
    assert len(labels) == nds
    jz = piqs.jspin(n, "z")
    jp = piqs.jspin(n, "+")
    e_ops = [jz / n, jp * jp.dag()]
    two_js = two_j_values(n)
    for tj in two_js:
        e_ops.append(qutip.Qobj(np.diag([1.0 if l[0] == tj else 0.0 for l in labels])))
    for k in range(n + 1):
        e_ops.append(qutip.Qobj(np.diag([1.0 if l[1] == 2 * k - n else 0.0 for l in labels])))
    out = qutip.mesolve(liou, rho0, times, e_ops=e_ops, options=OPTS)
    ev = [np.real(np.array(v)) for v in out.expect]
    res = {"jz_over_n": ev[0], "jplus_jminus": ev[1],
           "spin_distribution": np.array(ev[2:2 + len(two_js)]).T,
           "populations": np.array(ev[2 + len(two_js):]).T}
    # PIQS's single-precision coefficients leak trace (~5e-8 at N = 4): recorded, not hidden.
    res["trace_error"] = np.max(np.abs(res["spin_distribution"].sum(axis=1) - 1))
    assert res["trace_error"] < 1e-5, res["trace_error"]
    assert np.max(np.abs(res["populations"].sum(axis=1) - 1)) < 1e-5
    return res


def check_piqs_conventions():
    """PIQS vs the full space at N = 4 (excited, collective emission 1, one local process)."""
    worst = {}
    for process in PROCESSES:
        g = PIQS_RATES[process]
        full = solve_full_space([4], ["excited"], [([0], 1.0, 0.0)], [(None, {process: g})], TIMES)
        pq = solve_piqs(4, process, g, TIMES)
        d = max(np.max(np.abs(full["jz_over_n"][:, 0] - pq["jz_over_n"])),
                np.max(np.abs(full["jplus_jminus"][:, 0] - pq["jplus_jminus"])),
                np.max(np.abs(full["spin_distribution"][0] - pq["spin_distribution"])),
                np.max(np.abs(full["populations"][0] - pq["populations"])))
        # The same comparison with the full space's rate doubled: what a factor-2 convention
        # error would show (so the check above can fail).
        wrong = solve_full_space([4], ["excited"], [([0], 1.0, 0.0)], [(None, {process: 2 * g})],
                                 TIMES)
        d_wrong = np.max(np.abs(wrong["jz_over_n"][:, 0] - pq["jz_over_n"]))
        worst[process] = d
        print("PIQS vs full space, N = 4, %s %g: max |diff| = %.2e (full space at rate %g: %.2e)"
              % (process, g, d, 2 * g, d_wrong))
        if d > 1e-6:  # single-precision coefficients: ~1e-7; a convention error is O(0.1)
            raise SystemExit("PIQS's %s convention differs from the full space's" % process)
    return worst


# ---------------------------------------------------------------------------------------------
def fmt_table(rows, fmt="%.15e"):
    rows = np.atleast_2d(rows)
    return "[\n" + "".join("  [" + ", ".join(fmt % v for v in row) + "],\n" for row in rows) + "]"


def fmt_row(row, fmt="%.15e"):
    return "[" + ", ".join(fmt % v for v in row) + "]"


def case_toml(name, spins, initial, reservoirs, tables, res, steady, seconds):
    out = ["", "[cases.%s]" % name,
           "# N = %s, initial = %s, reservoirs (1-based domains, gamma, nbar) = %s, local = %s"
           % (spins, initial, [([d + 1 for d in ds], g, nb) for ds, g, nb in reservoirs],
              [(None if ds is None else [d + 1 for d in ds], p) for ds, p in tables]),
           "# mesolve took %.1f s; excitation balance %.1e" % (seconds, res["balance"]),
           "spins = [%s]" % ", ".join(map(str, spins)),
           'run_file = """\n%s"""' % run_file(spins, initial, reservoirs, tables),
           "local_channels = [%s]" % ", ".join('"%s"' % c for c in res["local_channels"]),
           "jz_over_n = " + fmt_table(res["jz_over_n"]),
           "jplus_jminus = " + fmt_table(res["jplus_jminus"]),
           "emitted_energy = " + fmt_table(res["emitted_energy"]),
           "local_quanta = " + fmt_table(res["local_quanta"])]
    for i, n in enumerate(spins):
        out.append("populations_%d = " % (i + 1) + fmt_table(res["populations"][i]))
    for i, n in enumerate(spins):
        out.append("two_j_%d = [%s]" % (i + 1, ", ".join(map(str, two_j_values(n)))))
        out.append("spin_distribution_%d = " % (i + 1) + fmt_table(res["spin_distribution"][i]))
    if steady is not None:
        out += ["", "[cases.%s.steady]" % name,
                "# t = inf: mesolve to t = %g; max change from t = %g: %.1e"
                % (T_INF, T_INF_CHECK, steady["change"]),
                "jz_over_n = " + fmt_row(steady["jz_over_n"]),
                "jplus_jminus = " + fmt_row(steady["jplus_jminus"]),
                "emitted_energy = " + fmt_row(steady["emitted_energy"]),
                "local_quanta = " + fmt_row(steady["local_quanta"])]
        for i in range(len(spins)):
            out.append("populations_%d = " % (i + 1) + fmt_row(steady["populations"][i]))
        for i in range(len(spins)):
            out.append("spin_distribution_%d = " % (i + 1) + fmt_row(steady["spin_distribution"][i]))
    return out


def steady_values(spins, initial, reservoirs, tables):
    r = solve_full_space(spins, initial, reservoirs, tables, [0.0, T_INF_CHECK, T_INF])
    flat = lambda k: np.concatenate([np.ravel(r[key][k]) for key in
                                     ("jz_over_n", "jplus_jminus", "emitted_energy",
                                      "local_quanta")] +
                                    [p[k] for p in r["populations"]] +
                                    [p[k] for p in r["spin_distribution"]])
    change = np.max(np.abs(flat(2) - flat(1)))
    assert change < 1e-9, "not steady by t = %g: %g" % (T_INF, change)
    s = {key: r[key][2] for key in ("jz_over_n", "jplus_jminus", "emitted_energy", "local_quanta")}
    s["populations"] = [p[2] for p in r["populations"]]
    s["spin_distribution"] = [p[2] for p in r["spin_distribution"]]
    s["change"] = change
    return s


def time_piqs():
    """The speed baseline: PIQS, N = 40, excited, collective emission 1 and every local process,
    mesolve on PIQS's Liouvillian to t = 10 (11 points), once with QuTiP's default options
    (Adams, atol 1e-8, rtol 1e-6) and once with OPTS; prints the seconds and how far apart."""
    n, times = 40, np.linspace(0.0, 10.0, 11)
    start = time.time()
    liou = piqs.Dicke(n, collective_emission=1.0, **PIQS_RATES).liouvillian()
    build = time.time() - start
    jz = [piqs.jspin(n, "z") / n]
    print("PIQS N = 40, collective emission 1.0, emission %g, pumping %g, dephasing %g, to t = 10:"
          % (PIQS_RATES["emission"], PIQS_RATES["pumping"], PIQS_RATES["dephasing"]))
    print("  Liouvillian built in %.1f s (%d x %d)" % (build, liou.shape[0], liou.shape[1]),
          flush=True)
    runs = []
    for label, options in (("default options", {}), ("atol = rtol = 1e-12, BDF", OPTS)):
        start = time.time()
        out = qutip.mesolve(liou, piqs.excited(n), times, e_ops=jz, options=options)
        runs.append(np.real(np.array(out.expect[0])))
        print("  mesolve, %s: %.1f s; <J^z>/N at t = 10: %.12f"
              % (label, time.time() - start, runs[-1][-1]), flush=True)
    print("  max |difference| of <J^z>/N over the 11 times: %.2e" % np.max(np.abs(runs[0] - runs[1])))


def main():
    args = sys.argv[1:]
    if "--time-piqs" in args:
        time_piqs()
        return
    only = None
    if "--only" in args:
        only = args[args.index("--only") + 1].split(",")
    started = time.time()
    body = []
    for name, spins, initial, reservoirs, tables in CASES:
        if only is not None and name not in only:
            continue
        t0 = time.time()
        res = solve_full_space(spins, initial, reservoirs, tables, TIMES)
        steady = (steady_values(spins, initial, reservoirs, tables)
                  if has_steady(reservoirs, tables, spins) else None)
        seconds = time.time() - t0
        print("%-22s %6.1f s  balance %.1e%s" % (name, seconds, res["balance"],
              "" if steady is None else "  steady change %.1e" % steady["change"]), flush=True)
        body += case_toml(name, spins, initial, reservoirs, tables, res, steady, seconds)
        if only is None:
            write_file(body, started, None)
    if only is not None:
        print("\n".join(body))
        return
    worst = check_piqs_conventions()
    for n in PIQS_SIZES:
        for process in PROCESSES:
            t0 = time.time()
            res = solve_piqs(n, process, PIQS_RATES[process], TIMES)
            seconds = time.time() - t0
            name = "piqs_%d_%s" % (n, process)
            print("%-22s %6.1f s" % (name, seconds), flush=True)
            body += ["", "[piqs.%s]" % name,
                     "# qutip.piqs.Dicke(%d, collective_emission = 1.0, %s = %r) from the excited"
                     " state; mesolve took %.1f s; max |sum_j P(j) - 1| = %.1e (PIQS's single"
                     "-precision coefficients)" % (n, process, PIQS_RATES[process], seconds,
                                                   res["trace_error"]),
                     "spins = [%d]" % n,
                     'run_file = """\n%s"""' % run_file([n], ["excited"], [([0], 1.0, 0.0)],
                                                        [(None, {process: PIQS_RATES[process]})]),
                     "jz_over_n = " + fmt_table(np.reshape(res["jz_over_n"], (-1, 1))),
                     "jplus_jminus = " + fmt_table(np.reshape(res["jplus_jminus"], (-1, 1))),
                     "populations_1 = " + fmt_table(res["populations"], "%.12e"),
                     "two_j_1 = [%s]" % ", ".join(map(str, two_j_values(n))),
                     "spin_distribution_1 = " + fmt_table(res["spin_distribution"], "%.12e")]
            write_file(body, started, worst)


def write_file(body, started, worst):
    """Writes the file with the cases done so far (rewritten after each case, so an interrupted
    run leaves a valid file with fewer cases)."""
    head = [
        "# Local decoherence (docs/local.md): reference values independent of qtraj.",
        "# [cases.*]: QuTiP mesolve on the full 2^N tensor-product space (no Dicke reduction), per",
        "# spin emission g D[s^-], pumping g D[s^+], dephasing (g/4) D[s^z] (Pauli s^z) plus the",
        "# collective reservoirs. [piqs.*]: QuTiP PIQS (one domain, Dicke basis), N = 20, 30, 40.",
        "# Rows: `times`. Columns: jz_over_n, jplus_jminus: domains; populations_i: P(k_i), k = 0..N_i;",
        "# spin_distribution_i: P(j_i) for 2j = two_j_i (ascending); emitted_energy: reservoirs, net",
        "# quanta gamma(nbar+1) int <L^+L^-> - gamma nbar int <L^-L^+> since t = 0 (as",
        "# /emitted_energy/mean); local_quanta: the channels `local_channels` names, `emission i`:",
        "# quanta emitted, g_e int <J_i^z + N_i/2>; `pumping i`: quanta absorbed, g_p int <N_i/2 - J_i^z>",
        "# (dephasing carries no energy). [cases.*.steady]: t = inf (no pumping, nbar = 0 only).",
        "# run_file: the case as a run file on 0 .. 40 with 401 points (every time is on that grid).",
        "# Generated by: ~/venv-ref/bin/python scripts/reference/qutip_local.py (%.0f s so far)"
        % (time.time() - started),
        'generator = "scripts/reference/qutip_local.py"',
        'qutip_version = "%s"' % qutip.__version__,
        'method = "full 2^N space, mesolve atol = rtol = 1e-12; PIQS Liouvillian, mesolve atol = rtol = 1e-12"',
        "piqs_check_n4 = { %s }" % ", ".join("%s = %.1e" % (p, d) for p, d in (worst or {}).items()),
        "grid_step = %r" % GRID_STEP,
        "times = [%s]" % ", ".join(repr(t) for t in TIMES)]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "data", "reference", "qutip_local.toml")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(head + body) + "\n")
    os.replace(path + ".tmp", path)
    print("wrote", os.path.normpath(path), "in %.0f s" % (time.time() - started))


if __name__ == "__main__":
    main()
