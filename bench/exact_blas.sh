#!/usr/bin/env bash
# The exact solver on BLAS against a build without it (bench/RESULTS.md, "Exact solver on BLAS"),
# side by side.
#   bench/exact_blas.sh NEW_QTRAJ OLD_QTRAJ [END] [THREADS]
# runs bench/exact/exact_60_30_10.toml (N = (60, 30, 10), first domain excited, chain, 101 linear
# points to time.end = END, default 2000) with both binaries at the same time (so that both see
# the same machine load), each under /usr/bin/time -v, and prints wall, user + sys CPU, peak RSS,
# the ESDIRK step count and the largest difference of <J_i^z>/N_i between the two results.
# Output files go to ${OUT:-/tmp}/exact_blas_{new,old}.{h5,time}.
set -euo pipefail
new=${1:?new qtraj binary}
old=${2:?old qtraj binary}
end=${3:-2000}
threads=${4:-0}
out=${OUT:-/tmp}
here=$(cd "$(dirname "$0")" && pwd)
run() {  # tag binary
  /usr/bin/time -v "$2" run "$here/exact/exact_60_30_10.toml" -q --threads "$threads" \
    --set time.end="$end" -o "$out/exact_blas_$1.h5" 2> "$out/exact_blas_$1.time"
}
uptime
run new "$new" & p1=$!
run old "$old" & p2=$!
wait $p1 $p2
uptime
for tag in new old; do
  f="$out/exact_blas_$tag.time"
  wall=$(grep "Elapsed (wall" "$f" | awk '{print $NF}')
  user=$(grep "User time" "$f" | awk '{print $NF}')
  sys=$(grep "System time" "$f" | awk '{print $NF}')
  rss=$(grep "Maximum resident" "$f" | awk '{print $NF}')
  steps=$(h5dump -a /exact_steps "$out/exact_blas_$tag.h5" 2>/dev/null | grep -m1 "(0)" | awk '{print $NF}')
  echo "$tag: wall $wall, user $user s, sys $sys s, peak RSS $((rss / 1024)) MiB, ESDIRK steps $steps"
done
/usr/bin/python3 - "$out/exact_blas_new.h5" "$out/exact_blas_old.h5" <<'EOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for key in ("/jz_over_n/mean", "/jplus_jminus/mean", "/emitted_energy/mean"):
    x, y = np.asarray(a[key]), np.asarray(b[key])
    print(f"{key}: max |new - old| = {np.max(np.abs(x - y)):.2e} "
          f"(relative to max |old| {np.max(np.abs(x - y)) / np.max(np.abs(y)):.2e})")
print("dense kernels:", a.attrs.get("exact_dense_kernels", a["/"].attrs.get("exact_dense_kernels")))
EOF
