#!/usr/bin/env bash
# The fuzz corpus as a regression test: builds the libFuzzer targets
# (contrib/fuzz/build.sh) and runs every file of contrib/fuzz/corpus/<target>
# through its target once; any crash, invariant violation, timeout (2 s)
# or memory blow-up (1 GB) fails. contrib/fuzz/crashers/ (known bugs not yet
# fixed) is not replayed.
#
# Skips (exit 0) only when this toolchain cannot build a -sanitize=fuzzer
# executable at all (no libFuzzer runtime).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source contrib/test/lib/scenarios.sh
start=$(date +%s)
# Swift's own crash backtracer hangs when it runs under ASan/libFuzzer;
# libFuzzer and ASan print the stack.
export SWIFT_BACKTRACE=enable=no

SWIFTC=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
[ -x "$SWIFTC" ] || { echo "  FAIL no swiftc (set SWIFTC)"; echo "t-fuzz-corpus: 0 passed, 1 failed"; exit 1; }
export SWIFTC

scenario probe "libFuzzer runtime"
P=$(mktemp -d /tmp/fedmail-fuzzprobe.XXXXXX)
trap 'rm -rf "$P"' EXIT
cat > "$P/probe.swift" <<'EOF'
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { 0 }
EOF
if ! "$SWIFTC" -sanitize=fuzzer,address -parse-as-library "$P/probe.swift" -o "$P/probe" > "$P/probe.log" 2>&1; then
    # Only a missing fuzzer runtime is a reason to skip: the same file
    # must compile without the sanitizers.
    if "$SWIFTC" -parse-as-library -c "$P/probe.swift" -o "$P/probe.o" > "$P/plain.log" 2>&1; then
        echo "t-fuzz-corpus: SKIP: $SWIFTC cannot build a -sanitize=fuzzer executable (no libFuzzer runtime):"
        sed 's/^/    /' "$P/probe.log" | head -n 5
        exit 0
    fi
    sed 's/^/    /' "$P/plain.log" | head -n 10
    fail "$SWIFTC cannot compile at all"
    echo "t-fuzz-corpus: $passes passed, $failures failed"
    exit 1
fi
pass "swiftc -sanitize=fuzzer,address builds"

scenario build "contrib/fuzz/build.sh"
if bash contrib/fuzz/build.sh > "$P/build.log" 2>&1; then
    pass "every fuzz target builds ($(( $(date +%s) - start ))s)"
else
    tail -n 40 "$P/build.log"
    fail "contrib/fuzz/build.sh failed"
fi

scenario replay "every corpus file once"
for dir in contrib/fuzz/corpus/*/; do
    t=$(basename "$dir")
    bin=$ROOT/.build-fuzz/$t
    mapfile -t files < <(find "$dir" -type f | sort)
    if [ ! -x "$bin" ]; then fail "$t: not built"; continue; fi
    if [ ${#files[@]} -eq 0 ]; then fail "$t: empty corpus"; continue; fi
    # Given files (not a directory), libFuzzer runs each once and writes nothing.
    if "$bin" -timeout=2 -rss_limit_mb=1024 -artifact_prefix="$P/" "${files[@]}" > "$P/$t.log" 2>&1; then
        pass "$t: ${#files[@]} corpus files"
    else
        grep -m 5 -E '^Running:|^==[0-9]+==ERROR|^Fatal error|invariant violated|ALARM|out-of-memory' "$P/$t.log" | tail -n 4 | sed 's/^/    /'
        fail "$t: a corpus file crashes (log: rerun $bin on contrib/fuzz/corpus/$t)"
    fi
done

echo "t-fuzz-corpus: $passes passed, $failures failed ($(( $(date +%s) - start ))s)"
[ "$failures" -eq 0 ]
