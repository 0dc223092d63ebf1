#!/bin/sh
# Train once per alpha and print a TSV: alpha, train and test accuracy, test error, status.
# Usage: scripts/alpha-sweep.sh [ALPHA...]   (extra gdcli train options via $GDCLI_SWEEP_ARGS)
# A run that diverges is reported in the table, not fatal. Needs gdcli on PATH (or $GDCLI).
set -u
gdcli=${GDCLI:-gdcli}
[ "$#" -gt 0 ] || set -- 0.0001 0.001 0.005 0.01 0.03 0.1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

field() { # field NAME FILE: one value of the flat JSON object gdcli train --json prints
    sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$2" | head -n 1
}

printf 'alpha\ttrain_accuracy\ttest_accuracy\ttest_error\tstatus\n'
for alpha in "$@"; do
    # shellcheck disable=SC2086  # GDCLI_SWEEP_ARGS is a list of words on purpose
    $gdcli train --alpha "$alpha" --json --quiet --out "$tmp/w-$alpha.npz" ${GDCLI_SWEEP_ARGS:-} \
        >"$tmp/out.json" 2>"$tmp/err.txt"
    code=$?
    status=$(field status "$tmp/out.json")
    if [ -z "$status" ]; then
        status="error: $(head -n 1 "$tmp/err.txt" | sed 's/^error: //')"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$alpha" "$(field train_accuracy "$tmp/out.json")" \
        "$(field test_accuracy "$tmp/out.json")" "$(field test_error "$tmp/out.json")" "$status"
    [ "$code" -le 1 ] || exit "$code"  # a usage error would fail every run alike
done
