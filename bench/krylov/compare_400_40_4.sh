#!/bin/sh
# Krylov vs spectral on (400,40,4), first domain excited, chain, t = 0, 1e-3 .. 100 (log, 31 points),
# side by side in one run (docs/krylov.md):
#   1. CPU and wall time of `qtraj run` for each propagator (set-up + trajectories), 1 thread
#      (CPU time: the development machine is shared, so wall time depends on its load);
#   2. the same seed: the same trajectories (max |difference| of the means, expected ~1e-8);
#   3. independent seeds: the two ensembles within 4 standard errors (`qtraj compare`).
# Usage: bench/krylov/compare_400_40_4.sh [build/qtraj] [trajectories] [out dir]
set -eu
QTRAJ=${1:-build/qtraj}
NTRAJ=${2:-1000}
OUT=${3:-/tmp/qtraj_krylov_400}
mkdir -p "$OUT"
cat > "$OUT/run.toml" <<TOML
[system]
domains = [400, 40, 4]
initial = ["excited", "ground", "ground"]
[time]
end = 100.0
points = 31
spacing = "log"
start = 1e-3
[solver]
kind = "trajectories"
trajectories = $NTRAJ
seed = 1
threads = 1
TOML
run() {  # name, then --set overrides; CPU seconds (user + sys) and wall seconds of the process
  name=$1; shift
  /usr/bin/time -f "%U %S %e" -o "$OUT/$name.time" "$QTRAJ" run "$OUT/run.toml" -o "$OUT/$name.h5" "$@" \
    > /dev/null 2>&1
  read -r user sys wall < "$OUT/$name.time"
  echo "$name: $(echo "$user + $sys" | bc) s CPU, $wall s wall, $NTRAJ trajectories (1 thread, set-up included)"
}
run spectral --set solver.propagator=\"spectral\"
run krylov --set solver.propagator=\"krylov\"
run krylov_seed2 --set solver.propagator=\"krylov\" --set solver.seed=2
/usr/bin/python3 - "$OUT" <<PY
import sys, h5py, numpy as np
out = sys.argv[1]
s = h5py.File(out + "/spectral.h5")["jz_over_n/mean"][()]
k = h5py.File(out + "/krylov.h5")["jz_over_n/mean"][()]
print("same seed: max |krylov - spectral| of <J_i^z>/N_i = %.3g" % np.abs(s - k).max())
PY
echo "independent seeds (krylov seed 2 vs spectral seed 1):"
"$QTRAJ" compare "$OUT/krylov_seed2.h5" "$OUT/spectral.h5" --threshold 4
