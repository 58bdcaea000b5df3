"""qtraj's exact solver beside QuTiP's mesolve on a small chain: domains (2, 1), i.e. three
spins, the two of the first domain excited, one zero-temperature reservoir coupling both domains
collectively (L = J_1^- + J_2^-, rate 1). Prints the largest difference of <J_i^z>/N_i.
Skips, saying so, where QuTiP is not installed (python3-qutip, scripts/install-deps.sh).

    PYTHONPATH=build/python python3 examples/python/qutip_check.py
"""

import sys

import numpy as np

import qtraj

try:
    import qutip as qt
except ImportError:
    print("qutip_check: skipped (QuTiP is not installed: apt-get install python3-qutip)")
    sys.exit(0)

r = qtraj.run({"system": {"domains": [2, 1], "initial": ["excited", "ground"]},
               "reservoir": [{"domains": [1, 2], "gamma": 1.0}],
               "time": {"end": 5.0, "points": 51}, "solver": {"kind": "exact"}}, progress=False)

# The same model on the 2^3 tensor space: spins 0, 1 form domain 1, spin 2 domain 2.
def op(single, k):
    return qt.tensor([single if i == k else qt.qeye(2) for i in range(3)])

jm = [op(qt.sigmam(), 0) + op(qt.sigmam(), 1), op(qt.sigmam(), 2)]
jz_over_n = [(op(qt.sigmaz(), 0) + op(qt.sigmaz(), 1)) / 4, op(qt.sigmaz(), 2) / 2]
rho0 = qt.ket2dm(qt.tensor(qt.basis(2, 0), qt.basis(2, 0), qt.basis(2, 1)))  # basis(2, 0): up
tolerances = {"atol": 1e-12, "rtol": 1e-10}
options = qt.Options(**tolerances) if hasattr(qt, "Options") else tolerances  # QuTiP 4 | 5
out = qt.mesolve(0 * jz_over_n[0], rho0, r.t, c_ops=[jm[0] + jm[1]], e_ops=jz_over_n,
                 options=options)
reference = np.column_stack([np.real(e) for e in out.expect])
diff = np.abs(r.jz_over_n - reference).max()
print(f"qtraj exact vs QuTiP mesolve, domains (2, 1): max |<J_i^z>/N_i difference| = {diff:.2e}")
sys.exit(0 if diff < 1e-6 else 1)
