#!/usr/bin/env bash
# Times the local-dephasing benchmark (dephasing_2000_200_20.toml): `run.sh short` (4 trajectories,
# t = 30) or `run.sh full` (100 trajectories, t = 300). Prints wall and CPU time, peak RSS (GNU
# time) and the blocks entered.
# Usage: bench/local/run.sh short|full [path/to/qtraj] [extra --set overrides...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-short}
qtraj=$(realpath "${2:-$here/../../build/qtraj}")
shift $(( $# > 2 ? 2 : $# ))
out=$(mktemp -d)
case "$mode" in
  short) sets=(--set solver.trajectories=4 --set time.end=30 --set time.points=4) ;;
  full) sets=() ;;
  *) echo "usage: $0 short|full [qtraj] [--set ...]" >&2; exit 2 ;;
esac
/usr/bin/time -f "wall %e s, CPU %U + %S s, peak RSS %M kB" "$qtraj" run "$here/dephasing_2000_200_20.toml" \
  "${sets[@]}" --set output.path="$out/local_dephasing.h5" "$@"
"$qtraj" info "$out/local_dephasing.h5" | grep -E "local_blocks|trajectories "
rm -rf "$out"
