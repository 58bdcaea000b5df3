#!/usr/bin/env bash
# The exact solver's two integrators side by side (docs/exact.md): ESDIRK4(3) and the Laplace
# inversion, one after the other with the same binary.
#   bench/exact_integrators.sh QTRAJ [TOML] [THREADS]
# default TOML: bench/exact/exact_60_30_10.toml (N = (60, 30, 10), first domain excited, chain,
# 101 linear points to t = 2000). Prints wall, user + sys CPU, peak RSS, steps and sweeps of each
# run (from `qtraj info`) and the largest difference of <J_i^z>/N_i (python3 + h5py). Output files go to ${OUT:-/tmp}/exact_{esdirk,laplace}.{h5,time}.
set -euo pipefail
qtraj=${1:?qtraj binary}
here=$(cd "$(dirname "$0")" && pwd)
toml=${2:-$here/exact/exact_60_30_10.toml}
threads=${3:-0}
out=${OUT:-/tmp}
uptime
for integrator in esdirk laplace; do
  /usr/bin/time -v "$qtraj" run "$toml" -q --threads "$threads" \
    --set "solver.integrator=\"$integrator\"" -o "$out/exact_$integrator.h5" \
    2> "$out/exact_$integrator.time"
  f="$out/exact_$integrator.time"
  wall=$(grep "Elapsed (wall" "$f" | awk '{print $NF}')
  user=$(grep "User time" "$f" | awk '{print $NF}')
  sys=$(grep "System time" "$f" | awk '{print $NF}')
  rss=$(grep "Maximum resident" "$f" | awk '{print $NF}')
  echo "$integrator: wall $wall, user $user s, sys $sys s, peak RSS $((rss / 1024)) MiB"
  "$qtraj" info "$out/exact_$integrator.h5" | grep -E "exact_(steps|sweeps|rejected)"
  uptime
done
/usr/bin/python3 - "$out/exact_esdirk.h5" "$out/exact_laplace.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for key in ("/jz_over_n/mean", "/populations/domain_1", "/jplus_jminus/mean", "/emitted_energy/mean"):
    x, y = np.asarray(a[key]), np.asarray(b[key])
    d = np.max(np.abs(x - y))
    print(f"{key}: max |esdirk - laplace| = {d:.2e} (relative to max |esdirk|: {d / np.max(np.abs(x)):.2e})")
PY
