#!/usr/bin/env bash
# Runs each test binary given (Check suites), prints its report, and ends
# with one total line. Exits non-zero if any binary failed.
set -u
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
export CK_VERBOSITY=${CK_VERBOSITY:-normal}
pass=0 fail=0 bad=()
for t in "$@"; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: [0-9]+' | tail -n 1)
    if [ -n "$line" ]; then
        n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        pass=$((pass + n - f - e)); fail=$((fail + f + e))
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        bad+=("$(basename "$t")")
        [ -n "$line" ] || fail=$((fail + 1))
    fi
done
[ ${#bad[@]} -eq 0 ] || echo "failed: ${bad[*]}"
echo "tests: $pass passed, $fail failed"
[ ${#bad[@]} -eq 0 ]
