#!/usr/bin/env bash
# Long fuzzing runs: each target for SECONDS (default 60) with libFuzzer.
#
# Usage: bash contrib/fuzz/run.sh [SECONDS] [TARGET...]   (default: every target)
#
# Builds the targets first (contrib/fuzz/build.sh; FUZZ_NO_BUILD=1 skips
# that), then runs each one, niced, from its seed corpus
# contrib/fuzz/corpus/<target> (read only) into a working corpus
# .build-fuzz/corpus/<target> that grows from run to run. Crashes,
# timeouts (-timeout=2) and out-of-memory inputs (-rss_limit_mb=1024) are
# written to .build-fuzz/crashes/<target>/, logs to .build-fuzz/logs/.
# Prints one line per target:
#   fuzz <target>: <executions> execs, <crashes> crashes, corpus <n>
# and exits non-zero if any target crashed.
#
# To keep what a run found: minimize it into the seed corpus with
#   .build-fuzz/<t> -merge=1 contrib/fuzz/corpus/<t> .build-fuzz/corpus/<t>
# (keep contrib/fuzz under ~2 MB). A crash: minimize it with
#   SWIFT_BACKTRACE=enable=no .build-fuzz/<t> -minimize_crash=1 -max_total_time=60 CRASHFILE
# and, while the bug is open, keep it in contrib/fuzz/crashers/<t>/ (which
# contrib/test/t-fuzz-corpus.sh does not replay); once fixed, move it into
# the corpus.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${FUZZ_OUT:-$PWD/.build-fuzz}
# Swift's own crash backtracer hangs when it runs under ASan/libFuzzer;
# libFuzzer and ASan print the stack.
export SWIFT_BACKTRACE=enable=no

all=(address contenttype token config header cms base64)
seconds=60
if (($#)) && [[ $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

max_len() {
    case $1 in
        header|cms|base64) echo 262144 ;;   # the opener reads 256 KiB heads; CMS of a message
        *) echo 70000 ;;                     # header values (parsers refuse > 64 KiB), config files
    esac
}

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    bash contrib/fuzz/build.sh "${targets[@]}" || { echo "fuzz run: build failed"; exit 1; }
fi

crashed=0
for t in "${targets[@]}"; do
    bin=$OUT/$t
    [ -x "$bin" ] || { echo "fuzz $t: not built"; crashed=1; continue; }
    mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/logs"
    log=$OUT/logs/$t.log
    before=$(find "$OUT/crashes/$t" -type f | wc -l)
    nice -n 10 "$bin" -max_total_time="$seconds" -timeout=2 -rss_limit_mb=1024 -max_len="$(max_len "$t")" \
        -artifact_prefix="$OUT/crashes/$t/" -print_final_stats=1 \
        "$OUT/corpus/$t" "contrib/fuzz/corpus/$t" > "$log" 2>&1
    rc=$?
    after=$(find "$OUT/crashes/$t" -type f | wc -l)
    crashes=$((after - before))
    # A non-zero exit without an artifact (e.g. a crash in start-up) counts too.
    if [ $rc -ne 0 ] && [ $crashes -eq 0 ]; then crashes=1; fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    # libFuzzer's own corpus size (the inputs it kept), from its last status line.
    corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    echo "fuzz $t: ${execs:-?} execs, $crashes crashes, corpus ${corpus:-?}"
    if [ $crashes -ne 0 ]; then
        crashed=1
        grep -m 3 -E '^==[0-9]+==ERROR|^Fatal error|invariant violated|ALARM|out-of-memory|Test unit written' "$log" | sed 's/^/    /'
    fi
done
exit $crashed
