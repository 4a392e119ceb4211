#!/usr/bin/env bash
# Builds the libFuzzer targets (contrib/fuzz/targets/<name>.swift) into
# .build-fuzz/<name>, with -sanitize=fuzzer,address.
#
# Usage: bash contrib/fuzz/build.sh [TARGET...]     (default: every target)
#
# The module sources are copied to .build-fuzz/src first, so an edit made
# while the build runs cannot break it half-way, then compiled once per
# module as a static library with -enable-testing (the targets use
# `@testable import`, so internal API is reachable):
#   FedMailCore    every Sources/FedMailCore/**/*.swift
#   FedMailCrypto  only the streaming parsers and what they need
#                  (BERByteSource, BERReader, CMSContentSplitter,
#                  Base64Stream, FileDescriptorIO, CryptoError), with
#                  COpenSSL from Sources/COpenSSL/module.modulemap, -lcrypto
# and each target is linked against its module's library.
# Exits non-zero when a compile fails. SWIFTC overrides the compiler;
# FUZZ_SWIFT_FLAGS replaces the optimization flags (default: -O -g; e.g.
# "-Onone -g" for a debug-build variant, where recursion is not turned into
# loops); FUZZ_OUT replaces the output directory (default: .build-fuzz);
# FUZZ_SRC the sources directory (default: Sources; e.g. a `git archive`
# of a commit while the work tree does not compile).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${FUZZ_OUT:-$ROOT/.build-fuzz}
SRC=${FUZZ_SRC:-Sources}

core_targets=(address contenttype token config header)
crypto_targets=(cms base64)
crypto_files=(BERByteSource BERReader CMSContentSplitter Base64Stream FileDescriptorIO CryptoError)

SWIFTC=${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}
[ -x "$SWIFTC" ] || { echo "fuzz build: no swiftc (set SWIFTC)" >&2; exit 1; }
read -r -a extra <<< "${FUZZ_SWIFT_FLAGS:--O -g}"
flags=(-sanitize=fuzzer,address "${extra[@]}" -parse-as-library)
# lld when the toolchain has it (gold warns about every ASan symbol).
[ -x "$(dirname "$SWIFTC")/ld.lld" ] && flags+=(-use-ld=lld)

targets=("$@")
((${#targets[@]})) || targets=("${core_targets[@]}" "${crypto_targets[@]}")
need_core=0; need_crypto=0
for t in "${targets[@]}"; do
    if [[ " ${core_targets[*]} " == *" $t "* ]]; then need_core=1
    elif [[ " ${crypto_targets[*]} " == *" $t "* ]]; then need_crypto=1
    else echo "fuzz build: unknown target '$t' (known: ${core_targets[*]} ${crypto_targets[*]})" >&2; exit 2
    fi
done

mkdir -p "$OUT/lib"
# Nothing stale survives a failed build (a replay must not run old binaries).
for t in "${targets[@]}"; do rm -f "$OUT/$t"; done
((need_core)) && rm -f "$OUT/lib/libFedMailCore.a" "$OUT/lib/FedMailCore.swiftmodule"
((need_crypto)) && rm -f "$OUT/lib/libFedMailCrypto.a" "$OUT/lib/FedMailCrypto.swiftmodule" \
    "$OUT/lib/libSystemIO.a" "$OUT/lib/SystemIO.swiftmodule"
# Quiet on success; the compiler's output when something fails.
run() {
    local log
    log=$("$@" 2>&1)
    local rc=$?
    if [ $rc -ne 0 ]; then printf '%s\n' "$log" >&2; fi
    return $rc
}

if ((need_core)); then
    echo "fuzz build: FedMailCore"
    rm -rf "$OUT/src/FedMailCore" && mkdir -p "$OUT/src" && cp -R "$SRC/FedMailCore" "$OUT/src/" || exit 1
    mapfile -t core_sources < <(find "$OUT/src/FedMailCore" -name '*.swift' | sort)
    run "$SWIFTC" "${flags[@]}" -enable-testing -module-name FedMailCore \
        -emit-module -emit-module-path "$OUT/lib/FedMailCore.swiftmodule" \
        -emit-library -static -o "$OUT/lib/libFedMailCore.a" "${core_sources[@]}" \
        || { echo "fuzz build: FedMailCore failed to compile" >&2; exit 1; }
fi

if ((need_crypto)); then
    echo "fuzz build: SystemIO"
    mapfile -t systemio_sources < <(find "$SRC/SystemIO" -name '*.swift' | sort)
    run "$SWIFTC" "${flags[@]}" -enable-testing -module-name SystemIO \
        -emit-module -emit-module-path "$OUT/lib/SystemIO.swiftmodule" \
        -emit-library -static -o "$OUT/lib/libSystemIO.a" "${systemio_sources[@]}" \
        || { echo "fuzz build: SystemIO failed to compile" >&2; exit 1; }
    echo "fuzz build: FedMailCrypto (streaming parsers)"
    rm -rf "$OUT/src/FedMailCrypto" && mkdir -p "$OUT/src/FedMailCrypto" || exit 1
    crypto_sources=()
    for f in "${crypto_files[@]}"; do
        found=$(find "$SRC/FedMailCrypto" -name "$f.swift" | head -n 1)
        [ -n "$found" ] || { echo "fuzz build: $f.swift not found under $SRC/FedMailCrypto" >&2; exit 1; }
        cp "$found" "$OUT/src/FedMailCrypto/" || exit 1
        crypto_sources+=("$OUT/src/FedMailCrypto/$f.swift")
    done
    run "$SWIFTC" "${flags[@]}" -enable-testing -module-name FedMailCrypto -I "$SRC/COpenSSL" -I "$OUT/lib" \
        -emit-module -emit-module-path "$OUT/lib/FedMailCrypto.swiftmodule" \
        -emit-library -static -o "$OUT/lib/libFedMailCrypto.a" "${crypto_sources[@]}" \
        || { echo "fuzz build: FedMailCrypto failed to compile" >&2; exit 1; }
fi

failed=0
for t in "${targets[@]}"; do
    if [[ " ${core_targets[*]} " == *" $t "* ]]; then
        link=("$OUT/lib/libFedMailCore.a")
    else
        link=(-I "$SRC/COpenSSL" "$OUT/lib/libFedMailCrypto.a" "$OUT/lib/libSystemIO.a" -lcrypto)
    fi
    if run "$SWIFTC" "${flags[@]}" -module-name "Fuzz_$t" -I "$OUT/lib" \
        "contrib/fuzz/targets/$t.swift" "${link[@]}" -o "$OUT/$t"; then
        echo "fuzz build: $OUT/$t"
    else
        echo "fuzz build: target $t failed to compile" >&2
        failed=1
    fi
done
exit $failed
