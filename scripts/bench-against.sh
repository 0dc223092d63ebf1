#!/bin/bash
# End to end, this checkout's `gdcli train --config NAME` against another version's, side by side:
#   scripts/bench-against.sh OLD_SRC [--data-dir DIR] [NAME ...]
# OLD_SRC: the src/ folder of another checkout (e.g. `git worktree add /tmp/v02 v0.2.0`, then
# /tmp/v02/src). Each round runs the old version then this one, three rounds per config, and
# prints the seconds of each (a new process: start-up, reading the data, training, every test,
# the weights file). Quote the fastest of each; a shared machine varies by 30%.
set -euo pipefail
old=$1; shift
data=()
if [ "${1:-}" = "--data-dir" ]; then data=(--data-dir "$2"); shift 2; fi
configs=("${@:-book book-ch8 book-ch8-dropout book-ch8-batch book-ch9}")
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cfg in ${configs[@]}; do
  for round in 1 2 3; do
    for version in old new; do
      src=$here/src; [ $version = old ] && src=$old
      start=$(date +%s.%N)
      PYTHONPATH=$src python -m gdcli train --config "$here/configs/$cfg.toml" "${data[@]}" \
        --out "$tmp/$version.npz" --quiet > /dev/null
      end=$(date +%s.%N)
      printf "%-18s %s round %s %6.2f s\n" "$cfg" $version $round "$(echo "$end - $start" | bc)"
    done
  done
done
