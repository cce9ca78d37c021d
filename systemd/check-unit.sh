#!/bin/sh
# Check systemd/monitord.service: `systemd-analyze verify` must pass and
# `systemd-analyze security --offline=yes` must rate it 2.0 or lower. Installs nothing.
#
# verify refuses a unit whose ExecStart binary does not exist. The unit names the installed
# path (/usr/local/bin/monitord); a build or CI machine has monitord in a virtualenv instead,
# so a copy of the unit is verified with ExecStart pointing at the monitord found there
# ($MONITORD_BIN, else `command -v monitord`, else ./.venv/bin/monitord). Everything else in
# the copy is unchanged, and the security rating is taken on the unit itself.
#
# Usage: systemd/check-unit.sh            (exit 0 when both checks pass)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
unit="$here/monitord.service"
threshold=2.0
# systemd-analyze takes the threshold on its internal 0–100 scale (it prints that divided by 10).
threshold_arg=20

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-unit: systemd-analyze not found; install the systemd package (apt-get install systemd)" >&2
    exit 2
fi

bin=${MONITORD_BIN:-$(command -v monitord 2>/dev/null || true)}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    bin="$here/../.venv/bin/monitord"
fi
if [ ! -x "$bin" ]; then
    echo "check-unit: no monitord executable found; install monitord (pip install -e .) or set MONITORD_BIN" >&2
    exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
sed "s|^ExecStart=/usr/local/bin/monitord |ExecStart=$bin |" "$unit" >"$tmp/monitord.service"
if ! grep -q "^ExecStart=$bin " "$tmp/monitord.service"; then
    echo "check-unit: ExecStart in $unit is not /usr/local/bin/monitord …; update this script" >&2
    exit 1
fi

echo "check-unit: systemd-analyze verify (ExecStart=$bin)"
# verify prints problems but may exit 0 for some of them: fail on any output as well.
out=$(systemd-analyze verify "$tmp/monitord.service" 2>&1) || {
    printf '%s\n' "$out" >&2
    echo "check-unit: verify failed" >&2
    exit 1
}
if [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    echo "check-unit: verify reported problems" >&2
    exit 1
fi

echo "check-unit: systemd-analyze security --offline=yes (at most $threshold)"
if ! report=$(systemd-analyze security --offline=yes --threshold="$threshold_arg" --no-pager "$unit" 2>&1); then
    printf '%s\n' "$report" >&2
    echo "check-unit: the unit's exposure is above $threshold (or the analysis failed)" >&2
    exit 1
fi
printf '%s\n' "$report" | tail -n 1
echo "check-unit: OK"
