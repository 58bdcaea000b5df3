#!/usr/bin/env bash
# The exact solver with local processes (docs/local.md "Exact"), the issue's two targets one
# after the other with the same binary:
#   bench/local/exact_local.sh QTRAJ [TOML...]
# default: bench/local/exact_40_every.toml (one domain, N = 40, every local process, t = 10:
# explicit Dormand-Prince, pumping makes n two-way) and bench/local/exact_20_10_4.toml
# ((20,10,4), emission + dephasing, t = 100: ESDIRK with the top-down GMRES stage solves).
# Prints wall, user CPU, peak RSS and the integrator's counters (`qtraj info`). Output files go to
# ${OUT:-/tmp}/local_<name>.{h5,time}.
set -euo pipefail
qtraj=${1:?qtraj binary}
shift
here=$(cd "$(dirname "$0")" && pwd)
tomls=("$@")
[ ${#tomls[@]} -gt 0 ] || tomls=("$here/exact_40_every.toml" "$here/exact_20_10_4.toml")
out=${OUT:-/tmp}
for toml in "${tomls[@]}"; do
  name=$(basename "$toml" .toml)
  uptime
  /usr/bin/time -v "$qtraj" run "$toml" -q -o "$out/local_$name.h5" 2> "$out/local_$name.time"
  f="$out/local_$name.time"
  wall=$(grep "Elapsed (wall" "$f" | awk '{print $NF}')
  user=$(grep "User time" "$f" | awk '{print $NF}')
  rss=$(grep "Maximum resident" "$f" | awk '{print $NF}')
  echo "$name: wall $wall, user $user s, peak RSS $((rss / 1024)) MiB"
  "$qtraj" info "$out/local_$name.h5" | grep -E "exact_(steps|rejected|sweeps|gmres|components|integrator)"
done
uptime
