#!/usr/bin/env bash
# Runs every FedMail test: installs what is needed (Debian 12, as root),
# builds, runs the Swift unit tests, then every integration suite
# contrib/test/t-*.sh against the real daemons, Postfix, OpenSSL and PostgreSQL.
#
# Usage: bash contrib/test/run-all.sh [SUITE...]   (suite names without t- and .sh)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

bash contrib/scripts/install-deps.sh || { echo "run-all: installing dependencies failed"; exit 1; }

echo "== build"
swift build --build-tests 2>&1 | tail -n 30
if [ "${PIPESTATUS[0]}" -ne 0 ]; then echo "run-all: build failed"; exit 1; fi
BIN=$(swift build --show-bin-path)
export FEDMAIL_BIN="$BIN"

passed=0; failed=0; failures=()
LOGDIR=$(mktemp -d /tmp/fedmail-suite-logs.XXXXXX)

echo "== swift test"
if swift test --skip-build 2>&1 | tee /tmp/fedmail-swift-test.log | grep -vE '^(Test Case|◇|↳)' | tail -n 60; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); failures+=("swift-test")
fi

suites=()
if (($#)); then
    for s in "$@"; do suites+=("contrib/test/t-$s.sh"); done
else
    for s in contrib/test/t-*.sh; do [ -e "$s" ] && suites+=("$s"); done
fi

for s in "${suites[@]}"; do
    name=$(basename "$s" .sh); name=${name#t-}
    echo "== suite $name"
    start=$(date +%s)
    log="$LOGDIR/$name.log"
    if bash "$s" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
        passed=$((passed + 1)); echo "== suite $name: ok ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1)); failures+=("$name"); echo "== suite $name: FAILED ($(( $(date +%s) - start ))s)"
    fi
done

# Repeat what failed at the end, where a CI log's tail shows it: the failing
# checks of each failed suite and the last lines it printed.
for name in "${failures[@]}"; do
    [ "$name" = swift-test ] && { echo "== failed: swift test"; grep -E 'failed|error:' /tmp/fedmail-swift-test.log | tail -n 30; continue; }
    echo "== failed: $name (full output: $LOGDIR/$name.log)"
    grep -E '^\s*(FAIL|FAILED|not ok)\b' "$LOGDIR/$name.log" | head -n 40
    echo "-- its last lines:"; tail -n 25 "$LOGDIR/$name.log"
done
((failed)) && echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
