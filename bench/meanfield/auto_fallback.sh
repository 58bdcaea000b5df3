#!/usr/bin/env bash
# solver.closure = "auto" against z_right alone, side by side with one binary (docs/meanfield.md
# 3.4): the diverging case bench/meanfield/auto_40_10_2.toml (auto must cost <= max(2 s, 2 x
# z_right) and give the z_right numbers), then (30,15,5) and (60,30,10), where auto must keep
# fourth_order.
#   bench/meanfield/auto_fallback.sh QTRAJ [OLD_QTRAJ]
# OLD_QTRAJ (optional): a binary to time on the diverging case as well (before/after).
# Prints wall and user + sys CPU of each run (/usr/bin/time -v), auto's stderr line, the closure
# each run used (`qtraj info`) and whether auto's datasets equal z_right's bit for bit (h5diff
# without tolerance). Output files go to ${OUT:-/tmp}/auto_*.{h5,time,err}.
set -euo pipefail
qtraj=${1:?qtraj binary}
old=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
toml=$here/auto_40_10_2.toml
out=${OUT:-/tmp}
timed() {  # name binary args...: one run, its wall and CPU
  local name=$1 bin=$2
  shift 2
  /usr/bin/time -v "$bin" run "$toml" -q -o "$out/auto_$name.h5" "$@" 2> "$out/auto_$name.time"
  local f="$out/auto_$name.time"
  grep -v -E "^\s|Command being timed" "$f" > "$out/auto_$name.err" || true
  local wall user sys
  wall=$(grep "Elapsed (wall" "$f" | awk '{print $NF}')
  user=$(grep "User time" "$f" | awk '{print $NF}')
  sys=$(grep "System time" "$f" | awk '{print $NF}')
  echo "$name: wall $wall, CPU $(echo "$user + $sys" | bc) s; closure $("$qtraj" info "$out/auto_$name.h5" \
    | awk '/meanfield_closure /{sub(":", "", $2); print $2}')"
}
uptime
timed z_right "$qtraj" --set 'solver.closure="z_right"'
timed auto "$qtraj"
echo "auto stderr: $(cat "$out/auto_auto.err")"
for d in /jz_over_n/mean /excitations/mean /jplus_jminus/mean; do
  if h5diff "$out/auto_auto.h5" "$out/auto_z_right.h5" "$d" > /dev/null; then echo "$d: auto == z_right bit for bit"
  else echo "$d: auto != z_right"; fi
done
for n in 30,15,5 60,30,10; do
  timed "auto_$n" "$qtraj" --set "system.domains=[$n]"
done
if [ -n "$old" ]; then
  timed old_auto "$old"
  echo "old auto stderr: $(cat "$out/auto_old_auto.err")"
fi
uptime
