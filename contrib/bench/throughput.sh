#!/usr/bin/env bash
# Benchmark (not a test): mail throughput through real Postfix, two gateways
# in a chain — client -> Postfix A (127.0.0.110) -> Postfix B (127.0.0.120)
# -> B's Maildir (the sink) — with a filter pair on the two gateways:
#
#   plain      no milter
#   dkim       OpenDKIM signs at A (RSA-2048, key from a file), OpenDKIM
#              verifies at B (the public key from TestPublicKeys, no DNS);
#              every copy at the sink must say dkim=pass
#   fedmail    fedmail-milter seals at A, opens at B (P-256 organizations,
#              static partner certificates: cert= in each allowlist); every
#              copy must say fedmail=pass and carry its original body
#   untouched  fedmail-milter at A and B, recipient at c.example (not
#              federated, not one of B's Domains): both milters pass it
#   nullmilter the floor of untouched: contrib/bench/null-milter.c (libmilter,
#              no state, no work) at A and B, negotiating as fedmail-milter
#              does (steps, no-reply flags, macros, actions) and accepting
#              at end of headers, recipient at c.example; every copy must
#              carry its original body
#   copymilter the floor of a milter that rewrites every body: the same
#              null milter with --replace-body at A and B, which takes the
#              body and gives the same bytes back (smfi_replacebody) at end
#              of message; recipient at c.example; every copy must carry
#              its original body (use it with -Kmb, beside fedmail-Kmb)
#   split      fedmail-milter at A and B, one recipient at b.example (sealed,
#              re-injected) and one at c.example (plaintext) per message
#   rsa3072    as fedmail, both organizations RSA-3072
#
# Any mode with the suffix -Kmb (e.g. fedmail-1mb, plain-1mb, fedmail-50mb)
# sends messages of K MiB instead of SIZE bytes: N_MB messages (default 200)
# over SESSIONS sessions when K < 10, a single message over one session when
# K >= 10 (warmed up with SIZE-byte messages). Both Postfix instances accept
# messages up to 200 MiB. The summary adds MB/s through the chain and each
# filter's MB per CPU second, beside `openssl speed -evp aes-256-gcm`.
#
# N messages of SIZE bytes over SESSIONS concurrent SMTP sessions
# (contrib/bench/smtp-drive.py), every mode RUNS times, interleaved (round 1:
# every mode, round 2: every mode, ...). Each run restarts the filters, sends
# SESSIONS warm-up messages, then measures: messages per second (first
# submission to last delivery at the sink), filter CPU per message
# (utime+stime from /proc/PID/stat, before and after) and each filter's peak
# RSS (VmHWM). The summary gives medians and the ratios to the OpenDKIM and
# plain chains. With BEFORE_BIN=DIR every FedMail mode also runs as
# MODE@before with DIR/fedmail-milter (e.g. a build of the previous commit).
#
# Usage (root; installs postfix, opendkim and opendkim-tools when missing,
# and for nullmilter and copymilter gcc, pkg-config and libmilter-dev; builds release
# binaries in .build-release unless FEDMAIL_BIN is set):
#   flock /tmp/fedmail-e2e.lock bash contrib/bench/throughput.sh
#   N=200 RUNS=1 MODES="plain fedmail" bash contrib/bench/throughput.sh
#   MODES="plain-1mb dkim-1mb fedmail-1mb fedmail-50mb" bash contrib/bench/throughput.sh
# Environment: N (2000), SIZE (10240), SESSIONS (20), RUNS (3), MODES (all
# of the above, 10 KB), N_MB (200), BODY_SPOOL_THRESHOLD (the milters'
# BodySpoolThreshold, e.g. 2m; default theirs, 1m), KEEP=1 keeps the work directory, RESULTS=FILE also writes
# the raw JSON lines there, PROFILE_DIR=DIR records each filter with
# `perf record -g` during each measured run (DIR/MODE-FILTER-ROUND.data;
# the CPU figures then include perf's own overhead).
set -eo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
N=${N:-2000}
SIZE=${SIZE:-10240}
SESSIONS=${SESSIONS:-20}
RUNS=${RUNS:-3}
N_MB=${N_MB:-200}
MODES=${MODES:-plain dkim fedmail untouched split rsa3072}

# mode_chain MODE: the filter chain of MODE (no @before, no size suffix).
mode_chain() { local m=${1%@before}; echo "${m%-[0-9]*mb}"; }
# mode_mib MODE: K of a -Kmb suffix, or nothing.
mode_mib() { local m=${1%@before}; [[ $m =~ -([0-9]+)mb$ ]] && echo "${BASH_REMATCH[1]}"; return 0; }
mode_size() { local k; k=$(mode_mib "$1"); if [ -n "$k" ]; then echo $((k * 1048576)); else echo "$SIZE"; fi; }
mode_count() {
    local k; k=$(mode_mib "$1")
    if [ -z "$k" ]; then echo "$N"; elif ((k < 10)); then echo "$N_MB"; else echo 1; fi
}
mode_sessions() { local k; k=$(mode_mib "$1"); if [ -n "$k" ] && ((k >= 10)); then echo 1; else echo "$SESSIONS"; fi; }
# The warm-up: SESSIONS messages of the mode's size, or of SIZE for a single large message.
mode_warm_size() { local k; k=$(mode_mib "$1"); if [ -n "$k" ] && ((k >= 10)); then echo "$SIZE"; else mode_size "$1"; fi; }
# BEFORE_BIN=DIR: also run each FedMail mode with the fedmail-milter in DIR
# (mode@before), interleaved with the others: a before/after comparison
# under the same load.
if [ -n "${BEFORE_BIN:-}" ]; then
    for mode in $MODES; do
        case $mode in *@before) continue ;; esac
        case $(mode_chain "$mode") in plain|dkim|nullmilter|copymilter) ;; *) MODES+=" $mode@before" ;; esac
    done
fi

[ "$(id -u)" = 0 ] || { echo "throughput: run as root (Postfix's master runs as root)"; exit 1; }
need=()
command -v postfix >/dev/null || need+=(postfix)
command -v opendkim >/dev/null || need+=(opendkim)
command -v opendkim-genkey >/dev/null || need+=(opendkim-tools)
command -v python3 >/dev/null || need+=(python3)
NULL_MILTER=""     # built below when a nullmilter or copymilter mode runs
case " $MODES " in *" nullmilter"[\ -]*|*" copymilter"[\ -]*)
    NULL_MILTER=yes
    command -v cc >/dev/null || need+=(gcc libc6-dev)
    command -v pkg-config >/dev/null || need+=(pkg-config)
    [ -e /usr/include/libmilter/mfapi.h ] || need+=(libmilter-dev) ;;
esac
if ((${#need[@]})); then
    echo "throughput: installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -z "${FEDMAIL_BIN:-}" ]; then
    echo "throughput: swift build -c release --scratch-path $ROOT/.build-release"
    nice -n 10 swift build -c release --scratch-path "$ROOT/.build-release" >/dev/null
    FEDMAIL_BIN=$(swift build -c release --scratch-path "$ROOT/.build-release" --show-bin-path)
fi
export FEDMAIL_BIN
DRIVE=$ROOT/contrib/bench/smtp-drive.py
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=../test/lib/federation.sh
. "$ROOT/contrib/test/lib/federation.sh"
BASE=$(mktemp -d /tmp/fedmail-bench-throughput.XXXXXX)
RAW=$BASE/results.jsonl
DKIM_PIDS=()
NULL_PIDS=()
bench_exit() {
    local pid
    for pid in "${DKIM_PIDS[@]}" "${NULL_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    fed_cleanup
    [ -n "${DK:-}" ] && rm -rf "$DK"
    if [ -n "${RESULTS:-}" ] && [ -e "$RAW" ]; then cp "$RAW" "$RESULTS"; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $BASE"; else rm -rf "$BASE"; fi
}
trap bench_exit EXIT
fed_setup "$BASE"
# The null milter: built into the work directory (755, reachable by postfix).
if [ -n "$NULL_MILTER" ]; then
    NULL_MILTER=$BASE/null-milter
    # shellcheck disable=SC2046
    cc -O2 -o "$NULL_MILTER" "$ROOT/contrib/bench/null-milter.c" $(pkg-config --cflags --libs milter) -lpthread \
        || { echo "throughput: cannot build contrib/bench/null-milter.c"; exit 1; }
fi

# ------------------------------------------------------------------ the two gateways
# A: a.example. B: b.example (federated with A) and c.example, which B's
# Postfix delivers but B's milter does not count as its own (not federated).
fed_org_static a 127.0.0.110 p256 a.example || exit 1
fed_org_static b 127.0.0.120 p256 b.example || exit 1
printf '@c.example\tinbox/\n' >>"$(pf_dir b)/etc/vmailbox"
pf_set b "virtual_mailbox_domains = b.example c.example"
fed_route a b
pf_route a c.example "$(fed_addr b):$(fed_port b)"
# Throughput: the SMTP client caches connections to B, smtpd keeps sessions.
pf_set a "smtp_connection_cache_on_demand = yes" "default_process_limit = 100"
pf_set b "default_process_limit = 100"
# The -Kmb modes: messages up to 200 MiB (a sealed 50 MiB message is about 70 MB).
for org in a b; do pf_set $org "message_size_limit = 209715200" "virtual_mailbox_limit = 0" "mailbox_size_limit = 0"; done

# The RSA-3072 organizations: another key and self-signed certificate each,
# made as fed_org_static makes them.
rsa_org() {
    local name=$1 domain=$2 dir; dir=$(fed_dir "$1")
    "$FEDMAIL_BIN/fedmailctl" keygen --type rsa3072 --out "$dir/keys/rsa.key" >/dev/null
    openssl req -new -x509 -key "$dir/keys/rsa.key" -days 30 -subj "/O=$name/CN=$domain" \
        -addext "subjectAltName=DNS:$domain" -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature,keyEncipherment" -addext "extendedKeyUsage=emailProtection" \
        -out "$dir/keys/rsa.crt" 2>/dev/null
    chown postfix:postfix "$dir/keys/rsa.key" "$dir/keys/rsa.crt"
}
rsa_org a a.example
rsa_org b b.example

# Allowlists and milter configurations: p256 and rsa3072 variants. The
# milters log at info (the shipped default), not the suites' debug.
for kind in p256 rsa3072; do
    crt=org.crt; key=org.key
    [ $kind = rsa3072 ] && { crt=rsa.crt; key=rsa.key; }
    install -m 644 "$(fed_dir b)/keys/$crt" "$(fed_dir a)/b-$kind.crt"
    install -m 644 "$(fed_dir a)/keys/$crt" "$(fed_dir b)/a-$kind.crt"
    echo "b.example  require  cert=$(fed_dir a)/b-$kind.crt" >"$(fed_dir a)/allowlist-$kind"
    echo "a.example  require  cert=$(fed_dir b)/a-$kind.crt" >"$(fed_dir b)/allowlist-$kind"
    for org in a b; do
        dir=$(fed_dir $org)
        chmod 644 "$dir/allowlist-$kind"
        extra=()
        [ -n "${BODY_SPOOL_THRESHOLD:-}" ] && extra=("BodySpoolThreshold $BODY_SPOOL_THRESHOLD")
        fed_milter_conf $org -BrokerURL -BrokerCA -TokenCacheDir "LogLevel info" \
            "OrgKey $dir/keys/$key" "OrgCertificate $dir/keys/$crt" "FederationAllowlist $dir/allowlist-$kind" "${extra[@]}"
        cp "$dir/milter.conf" "$dir/milter-$kind.conf"
    done
done

# OpenDKIM: A signs with an RSA-2048 key from a file, B verifies with the
# public key from a TestPublicKeys file (DNS-free, a real verification).
# (OpenDKIM refuses a configuration under a world-writable directory such as /tmp.)
DK=$(mktemp -d /run/fedmail-bench-dkim.XXXXXX)
chmod 755 "$DK"
opendkim-genkey -b 2048 -d a.example -s bench -D "$DK" >/dev/null
printf 'bench._domainkey.a.example v=DKIM1; k=rsa; p=%s\n' \
    "$(openssl rsa -in "$DK/bench.private" -pubout -outform DER 2>/dev/null | base64 -w0)" >"$DK/testkeys"
chown -R postfix:postfix "$DK"
cat >"$DK/sign.conf" <<CONF
Mode                s
Domain              a.example
Selector            bench
KeyFile             $DK/bench.private
Socket              local:$DK/sign.sock
UserID              postfix:postfix
UMask               007
Syslog              no
Canonicalization    relaxed/simple
InternalHosts       127.0.0.0/8
PidFile             $DK/sign.pid
CONF
cat >"$DK/verify.conf" <<CONF
Mode                v
Socket              local:$DK/verify.sock
UserID              postfix:postfix
UMask               007
Syslog              no
AuthservID          mx.b.test
TestPublicKeys      $DK/testkeys
PidFile             $DK/verify.pid
CONF

# Both Postfix instances run for the whole benchmark; each run points their
# smtpd_milters at the mode's filters and reloads them.
pf_start a || exit 1
pf_start b || exit 1

FILTER_PIDS=()     # "name pid" of the filters of the current run
start_filters() {
    local mode=$1 org conf
    FILTER_PIDS=()
    case $(mode_chain "$mode") in
        plain)
            pf_set a "smtpd_milters =" "non_smtpd_milters ="
            pf_set b "smtpd_milters =" "non_smtpd_milters =" ;;
        dkim)
            local which sock
            for which in sign verify; do
                rm -f "$DK/$which.sock" "$DK/$which.pid"
                opendkim -f -x "$DK/$which.conf" 2>>"$DK/$which.log" &
                DKIM_PIDS+=("$!"); FILTER_PIDS+=("opendkim-$which $!")
                sock=$DK/$which.sock
                for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
                [ -S "$sock" ] || { echo "opendkim $which did not start:"; cat "$DK/$which.log"; return 1; }
            done
            pf_set a "smtpd_milters = unix:$DK/sign.sock" "non_smtpd_milters ="
            pf_set b "smtpd_milters = unix:$DK/verify.sock" "non_smtpd_milters =" ;;
        nullmilter|copymilter)
            # As user postfix (setpriv execs: $! is the milter), its socket
            # beside OpenDKIM's in $DK.
            local sock copy=()
            [ "$(mode_chain "$mode")" = copymilter ] && copy=(--replace-body)
            for org in a b; do
                sock=$DK/null-$org.sock
                rm -f "$sock"
                setpriv --reuid=postfix --regid=postfix --init-groups \
                    "$NULL_MILTER" "unix:$sock" "${copy[@]}" 2>>"$DK/null-$org.log" &
                NULL_PIDS+=("$!"); FILTER_PIDS+=("null-$org $!")
                for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
                [ -S "$sock" ] || { echo "null-milter $org did not start:"; cat "$DK/null-$org.log"; return 1; }
                pf_set $org "smtpd_milters = unix:$sock" "non_smtpd_milters ="
            done ;;
        *)
            local bin=$FEDMAIL_BIN kind
            kind=$(mode_chain "$mode")
            [ "${mode%@before}" != "$mode" ] && bin=$BEFORE_BIN
            conf=milter-p256.conf
            [ "$kind" = rsa3072 ] && conf=milter-rsa3072.conf
            for org in a b; do
                mv "$FM_DIR/$org.log" "$FM_DIR/$org.log.$(date +%s%N)" 2>/dev/null || true
                FEDMAIL_BIN=$bin fm_start $org "$(fed_dir $org)/$conf" || return 1
                local var="FM_PID_$org"
                FILTER_PIDS+=("fedmail-$org ${!var}")
                pf_set $org "smtpd_milters = unix:$(fed_dir $org)/milter.sock" "non_smtpd_milters ="
            done ;;
    esac
    postfix -c "$(pf_dir a)/etc" reload >/dev/null 2>&1
    postfix -c "$(pf_dir b)/etc" reload >/dev/null 2>&1
    sleep 1
}

stop_filters() {
    local entry pid
    for entry in "${FILTER_PIDS[@]}"; do
        pid=${entry#* }
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# drive MODE TAG COUNT SIZE SESSIONS: one batch through A; prints smtp-drive.py's JSON.
drive() {
    local mode tag=$2 count=$3 size=$4 sessions=$5 args=()
    mode=$(mode_chain "$1")
    case $mode in
        plain) args=(--rcpt bob@b.example) ;;
        dkim) args=(--rcpt bob@b.example --expect '^Authentication-Results: mx\.b\.test;.*dkim=pass') ;;
        fedmail|rsa3072) args=(--rcpt bob@b.example --expect '^Authentication-Results: mx\.b\.test; fedmail=pass') ;;
        untouched|nullmilter|copymilter) args=(--rcpt carol@c.example) ;;
        split) args=(--rcpt bob@b.example --plain carol@c.example --expect '^Authentication-Results: mx\.b\.test; fedmail=pass') ;;
    esac
    python3 "$DRIVE" --host "$(fed_addr a)" --port "$(fed_port a)" --source "$(fed_client a)" \
        --maildir "$(pf_maildir b)" --count "$count" --sessions "$sessions" --size "$size" \
        --tag "$tag" --sender alice@a.example "${args[@]}" --timeout 900
}

status=0
for round in $(seq 1 "$RUNS"); do
    for mode in $MODES; do
        start_filters "$mode" || { echo "throughput: $mode: filters did not start"; status=1; stop_filters; continue; }
        count=$(mode_count "$mode"); size=$(mode_size "$mode"); sessions=$(mode_sessions "$mode")
        drive "$mode" "warm$round$mode" "$SESSIONS" "$(mode_warm_size "$mode")" "$SESSIONS" >/dev/null \
            || { echo "throughput: $mode: the warm-up failed"; status=1; }
        declare -A before=()
        for entry in "${FILTER_PIDS[@]}"; do before[${entry% *}]=$(cpu_ticks "${entry#* }"); done
        perf_pids=()
        if [ -n "${PROFILE_DIR:-}" ]; then
            mkdir -p "$PROFILE_DIR"
            for entry in "${FILTER_PIDS[@]}"; do
                perf record -q ${PERF_ARGS:--F 1999 -g} -p "${entry#* }" -o "$PROFILE_DIR/$mode-${entry% *}-$round.data" >/dev/null 2>&1 &
                perf_pids+=("$!")
            done
            sleep 0.5
        fi
        if ! out=$(drive "$mode" "r$round$mode" "$count" "$size" "$sessions"); then status=1; echo "throughput: $mode run $round FAILED the checks: $out"; fi
        for pid in "${perf_pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
        filters="{"
        for entry in "${FILTER_PIDS[@]}"; do
            name=${entry% *}; pid=${entry#* }
            after=$(cpu_ticks "$pid")
            cpu_ms=$(awk -v d=$((after - ${before[$name]})) -v t="$CLK_TCK" -v n="$count" 'BEGIN { printf "%.3f", d * 1000 / t / n }')
            filters+="\"$name\": {\"cpu_ms_per_msg\": $cpu_ms, \"hwm_kb\": $(fm_hwm "$pid")},"
        done
        filters="${filters%,}}"
        echo "{\"mode\": \"$mode\", \"round\": $round, \"count\": $count, \"size\": $size, \"filters\": $filters, \"run\": $out}" >>"$RAW"
        printf '%-10s round %s: %s msg/s  %s\n' "$mode" "$round" \
            "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rate"])' "$out" 2>/dev/null || echo '?')" "$filters"
        stop_filters
    done
done

# The AES-256-GCM speed of this machine's OpenSSL (16 KiB blocks), for the
# -Kmb modes' MB per CPU second.
aes_gcm=""
case " $MODES " in *mb\ *|*mb@before\ *)
    aes_gcm=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 2 2>/dev/null \
        | awk 'tolower($1) ~ /^aes-256-gcm/ { v = $NF; sub(/k$/, "", v); printf "%.0f", v * 1000 / 1e6 }') ;;
esac

python3 - "$RAW" "$N" "$SIZE" "$SESSIONS" "$aes_gcm" <<'PY'
import json, re, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, size, sessions, aes_gcm = sys.argv[2:6]
modes = []
for r in rows:
    if r["mode"] not in modes: modes.append(r["mode"])
def med(xs): return statistics.median(xs) if xs else float("nan")
def suffix(m):
    found = re.search(r"-[0-9]+mb$", m.removesuffix("@before"))
    return found.group(0) if found else ""
rate = {m: med([r["run"]["rate"] for r in rows if r["mode"] == m]) for m in modes}
print(f"\n{n} messages of {size} bytes (-Kmb modes: their own count and size), {sessions} SMTP sessions, "
      f"{max(r['round'] for r in rows)} interleaved run(s) per mode")
if aes_gcm:
    print(f"AES-256-GCM on this machine (openssl speed -evp aes-256-gcm, 16 KiB blocks): {aes_gcm} MB/s")
print("\n| chain | messages x size | msg/s (median) | MB/s | x plain | x OpenDKIM | filter CPU ms/msg (median; min-max) | filter MB per CPU s | peak RSS (max) | checked |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in modes:
    mine = [r for r in rows if r["mode"] == m]
    count = mine[0].get("count", int(n)); msize = mine[0].get("size", int(size))
    names = list(mine[0]["filters"].keys())
    cpu = []
    per_cpu = []
    rss = []
    for name in names:
        values = [r["filters"][name]["cpu_ms_per_msg"] for r in mine if name in r["filters"]]
        cpu.append(f"{name} {med(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        if med(values) > 0: per_cpu.append(f"{name} {msize / 1e6 / (med(values) / 1000):.0f}")
        rss.append(f"{name} {max(r['filters'][name]['hwm_kb'] for r in mine if name in r['filters']) / 1024:.0f} MB")
    ok = sum(r["run"]["ok"] for r in mine); expected = sum(r["run"]["copies_expected"] for r in mine)
    bad = sum(r["run"]["bad"] + r["run"]["failures"] for r in mine)
    plain, dkim = "plain" + suffix(m), "dkim" + suffix(m)
    xp = f"{rate[m] / rate[plain]:.2f}" if plain in rate else "-"
    xd = f"{rate[m] / rate[dkim]:.2f}" if dkim in rate else "-"
    print(f"| {m} | {count} x {msize} | {rate[m]:.2f} | {rate[m] * msize / 1e6:.1f} | {xp} | {xd} | {'; '.join(cpu) or '-'} | "
          f"{'; '.join(per_cpu) or '-'} | {'; '.join(rss) or '-'} | {ok}/{expected} ok{'' if not bad else f', {bad} BAD'} |")
PY
exit $status
