#!/usr/bin/env python3
"""The ladder amplitudes of local processes between total-spin blocks, from the full space.

For N = 3..6 spins-1/2 (numpy only, no qtraj, no QuTiP) this builds the Schur-Weyl basis of the
2^N space, |j, m, alpha> (alpha = 1..d_j labels the copies of spin j; the collective J^- acts on
m only, permutations on alpha only), and for each local process s = s^-, s^+ or s^z (Pauli) the
permutation-averaged map
    Phi(rho) = sum_k s_k rho s_k^+
restricted to permutation-invariant states rho = sum_j sigma_j (x) 1_{d_j} / d_j, from block j to
block j':  sigma_{j'} = sum_alpha-traced part of Phi(sigma_j (x) 1/d_j). It checks that every
block map is Kraus rank 1, sigma_j -> A sigma_j A^+, extracts A (up to one phase per (j, j')),
and compares it with the closed forms of docs/local.md ("Ladder amplitudes"):
  emission  |j,m> -> |j',m-1>:
    j' = j:    sqrt((N/2+1)(j+m)(j-m+1) / (2j(j+1)))
    j' = j-1:  sqrt((N/2+j+1)(j+m)(j+m-1) / (2j(2j+1)))
    j' = j+1:  sqrt((N/2-j)(j-m+1)(j-m+2) / (2(j+1)(2j+1)))
  pumping   |j,m> -> |j',m+1>: the same with m -> -m
  dephasing |j,m> -> |j',m>:
    j' = j:    2m sqrt((N/2+1) / (2j(j+1)))          (0 at j = 0)
    j' = j-1:  sqrt(2(N/2+j+1)(j^2-m^2) / (j(2j+1)))
    j' = j+1:  sqrt(2(N/2-j)((j+1)^2-m^2) / ((j+1)(2j+1)))
(to be multiplied by sqrt(g_e), sqrt(g_p), sqrt(g_phi / 4)). It also checks that the block maps
preserve the trace together with the no-jump part: sum_j' A^+ A = (sum_k s_k^+ s_k) on block j,
i.e. J^z + N/2 (emission), N/2 - J^z (pumping), N (dephasing).

Writes data/reference/local_ladder.toml: per process, parallel arrays N, two_j, two_m, dj,
amplitude, one entry per (N, j, m, j' = j + dj) with a valid target state, the amplitude from
the full space with its (j, j') phase chosen to make it real and of the closed form's sign.
Run: /usr/bin/python3 scripts/reference/local_ladder.py   (numpy; a few seconds)
"""
import os

import numpy as np

SM = np.array([[0, 0], [1, 0]], dtype=complex)  # basis (up, down): s^- |up> = |down>
SP = SM.T.copy()
SZ = np.diag([1.0, -1.0]).astype(complex)
PROCESSES = {"emission": SM, "pumping": SP, "dephasing": SZ}
SHIFT = {"emission": -1, "pumping": +1, "dephasing": 0}  # m' = m + shift (in units of 1)


def one_spin(op, k, n):
    out = np.array([[1.0 + 0j]])
    for s in range(n):
        out = np.kron(out, op if s == k else np.eye(2))
    return out


def schur_weyl_basis(n):
    """{two_j: B} with B (2^n x (2j+1) d_j), columns ordered (m = j, j-1, .., -j) x alpha."""
    jm = sum(one_spin(SM, k, n) for k in range(n))
    jp = jm.conj().T
    up_count = np.array([n - bin(b).count("1") for b in range(2 ** n)])  # bit 1 = down
    bases = {}
    for two_j in range(n, -1, -2):
        k_top = (n + two_j) // 2  # m = j  <=>  k = n/2 + j spins up
        idx = np.flatnonzero(up_count == k_top)
        sub = np.zeros((2 ** n, len(idx)), dtype=complex)
        sub[idx, np.arange(len(idx))] = 1.0
        # highest weights: kernel of J^+ inside the m = j eigenspace
        _, sv, vh = np.linalg.svd(jp @ sub)
        rank = int(np.sum(sv > 1e-10))
        top = sub @ vh[rank:].conj().T
        d = top.shape[1]
        if d == 0:
            continue
        cols, v = [top], top
        j = two_j / 2
        for step in range(two_j):  # lower: J^- |j,m> = sqrt((j+m)(j-m+1)) |j,m-1>
            m = j - step
            v = jm @ v / np.sqrt((j + m) * (j - m + 1))
            cols.append(v)
        b = np.hstack(cols)  # (m, alpha) with alpha fastest
        assert np.allclose(b.conj().T @ b, np.eye(b.shape[1]), atol=1e-10)
        bases[two_j] = (b, d)
    assert sum(b.shape[1] for b, _ in bases.values()) == 2 ** n
    return bases


def degeneracy(n, two_j):
    from math import comb
    return comb(n, (n - two_j) // 2) - (comb(n, (n - two_j) // 2 - 1) if two_j < n else 0)


def closed_form(process, n, j, m, dj):
    """The closed form of the amplitude |j,m> -> |j+dj, m'>; None where it does not apply."""
    h = n / 2
    if process == "pumping":  # the emission formula with m -> -m
        return closed_form("emission", n, j, -m, dj)
    if process == "emission":
        if dj == 0:
            return 0.0 if j == 0 else np.sqrt((h + 1) * (j + m) * (j - m + 1) / (2 * j * (j + 1)))
        if dj == -1:
            return np.sqrt((h + j + 1) * (j + m) * (j + m - 1) / (2 * j * (2 * j + 1)))
        return np.sqrt((h - j) * (j - m + 1) * (j - m + 2) / (2 * (j + 1) * (2 * j + 1)))
    if dj == 0:
        return 0.0 if j == 0 else 2 * m * np.sqrt((h + 1) / (2 * j * (j + 1)))
    if dj == -1:
        return np.sqrt(2 * (h + j + 1) * (j * j - m * m) / (j * (2 * j + 1)))
    return np.sqrt(2 * (h - j) * ((j + 1) ** 2 - m * m) / ((j + 1) * (2 * j + 1)))


def block_maps(n, process, bases):
    """{(two_j, two_j'): A} with A ((2j'+1) x (2j+1)), sigma_j -> A sigma_j A^+ (Kraus rank 1)."""
    s = PROCESSES[process]
    ops = [one_spin(s, k, n) for k in range(n)]
    maps = {}
    for tj, (bj, dj_deg) in bases.items():
        for tjp, (bjp, djp_deg) in bases.items():
            if abs(tjp - tj) > 2:
                continue
            a_dim, b_dim = tj + 1, tjp + 1
            # S[(mu, mu'), (m, m')] = (1/d_j) sum_k sum_{alpha, beta} T[(mu beta), (m alpha)]
            #                         conj(T[(mu' beta), (m' alpha)])
            choi = np.zeros((b_dim * a_dim, b_dim * a_dim), dtype=complex)
            for op in ops:
                t = (bjp.conj().T @ op @ bj).reshape(b_dim, djp_deg, a_dim, dj_deg)
                # Choi[(mu, m), (mu', m')] = sum_{alpha beta} t[mu,beta,m,alpha] conj(t[mu',beta,m',alpha])
                tt = t.transpose(0, 2, 1, 3).reshape(b_dim * a_dim, djp_deg * dj_deg)
                choi += tt @ tt.conj().T / dj_deg
            w, v = np.linalg.eigh(choi)
            if w[-1] < 1e-12:
                continue  # no transition between these blocks
            assert w[-2] < 1e-10 * w[-1], "Kraus rank > 1: %s N=%d %d->%d %s" % (
                process, n, tj, tjp, w[-3:])
            assert w[0] > -1e-10
            maps[(tj, tjp)] = (np.sqrt(w[-1]) * v[:, -1]).reshape(b_dim, a_dim)
    return maps


def check(n, process, bases, maps):
    """Compare with the closed forms; returns table rows and the largest deviation."""
    rows, worst = [], 0.0
    shift = SHIFT[process]
    for tj in bases:
        j = tj / 2
        for dj in (-1, 0, 1):
            tjp = tj + 2 * dj
            if tjp not in bases:
                continue
            a = maps.get((tj, tjp), np.zeros((tjp + 1, tj + 1)))
            ref = np.zeros_like(a, dtype=float)
            for col in range(tj + 1):
                m = j - col
                mp = m + shift
                if abs(mp) > tjp / 2 + 1e-9:
                    continue
                ref[int(round(tjp / 2 - mp)), col] = closed_form(process, n, j, m, dj)
            # the one free phase per (j, j'): fit it on the largest entry
            big = np.unravel_index(np.argmax(np.abs(ref)), ref.shape)
            phase = a[big] / ref[big] if abs(ref[big]) > 0 else 1.0
            phase = phase / abs(phase) if abs(phase) > 0 else 1.0
            aligned = a / phase
            worst = max(worst, np.max(np.abs(aligned - ref)))
            for col in range(tj + 1):
                m = j - col
                mp = m + shift
                if abs(mp) > tjp / 2 + 1e-9:
                    continue
                amp = aligned[int(round(tjp / 2 - mp)), col]
                assert abs(amp.imag) < 1e-10
                rows.append((n, tj, int(round(2 * m)), dj, amp.real))
    # Trace preservation with the no-jump part: sum_j' A^+ A = sum_k s_k^+ s_k on block j.
    for tj in bases:
        j = tj / 2
        ms = j - np.arange(tj + 1)
        no_jump = {"emission": ms + n / 2, "pumping": n / 2 - ms, "dephasing": n + 0 * ms}[process]
        total = sum((a.conj().T @ a for (src, _), a in maps.items() if src == tj),
                    np.zeros((tj + 1, tj + 1)))
        assert np.allclose(total, np.diag(no_jump), atol=1e-10), (process, n, tj)
    return rows, worst


def main():
    out = ["# Ladder amplitudes of the local processes between total-spin blocks (docs/local.md,",
           "# 'Ladder amplitudes'), from the full 2^N space: the permutation-averaged map",
           "# sum_k s_k rho s_k^+ on rho = sum_j sigma_j (x) 1/d_j, block j -> j' = j + dj, is",
           "# sigma_j -> A sigma_j A^+ (Kraus rank 1, checked); amplitude = <j', m'|A|j, m> with",
           "# m' = m - 1 (emission), m + 1 (pumping), m (dephasing, Pauli s^z), times sqrt(g_e),",
           "# sqrt(g_p), sqrt(g_phi/4) in the master equation. The one free phase per (j, j') is",
           "# chosen so that the amplitude is real with the closed form's sign.",
           "# Generated by: /usr/bin/python3 scripts/reference/local_ladder.py",
           'generator = "scripts/reference/local_ladder.py"']
    summary, tables = [], []
    for process in PROCESSES:
        rows, worst_all = [], 0.0
        for n in range(3, 7):
            bases = schur_weyl_basis(n)
            for tj, (_, d) in bases.items():
                assert d == degeneracy(n, tj)
            maps = block_maps(n, process, bases)
            r, worst = check(n, process, bases, maps)
            if worst > 1e-12:
                raise SystemExit("%s, N = %d: the closed form is off by %.3g" % (process, n, worst))
            rows += r
            worst_all = max(worst_all, worst)
            print("%-9s N = %d: %3d amplitudes, max |full space - closed form| = %.1e"
                  % (process, n, len(r), worst))
        summary.append("%s = %.1e" % (process, worst_all))
        tables += ["", "[%s]" % process,
                   "N = [%s]" % ", ".join(str(r[0]) for r in rows),
                   "two_j = [%s]" % ", ".join(str(r[1]) for r in rows),
                   "two_m = [%s]" % ", ".join(str(r[2]) for r in rows),
                   "dj = [%s]" % ", ".join(str(r[3]) for r in rows),
                   "amplitude = [%s]" % ", ".join("%.15e" % r[4] for r in rows)]
    out.append("max_deviation_from_closed_form = { %s }" % ", ".join(summary))
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "data", "reference", "local_ladder.toml")
    with open(path, "w") as f:
        f.write("\n".join(out + tables) + "\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
