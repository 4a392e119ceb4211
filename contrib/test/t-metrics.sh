#!/usr/bin/env bash
# Metrics end to end: a real Prometheus (Debian package `prometheus`, a
# private instance with its own configuration and data directory here)
# scrapes both gateways' fedmail-milter (MetricsListen) and the broker
# (GET /metrics) while mail goes through real Postfix instances, and the
# series count exactly the messages this suite sent.
#
#   broker      127.0.0.1 (lib/federation.sh), scraped over HTTPS
#   A           127.0.0.190, a.example, Postfix + fedmail-milter, a private
#               clamd (TCP) scanning every original before sealing;
#               metrics on 127.0.0.190
#   B           127.0.0.200, b.example, Postfix + fedmail-milter; metrics
#               on 127.0.0.200; A -> B through an SMTP wiretap
#   Prometheus  127.0.0.195, scrape interval 1 s
#   outside     127.0.0.199, an SMTP client talking to B directly
#
#   cf  MetricsListen errors: `fedmail-milter -n` refuses a non-loopback
#       address (without MetricsFromAnywhere), a bad port, a host name,
#       with the line number; a port in use stops the start
#   hp  /metrics over HTTP: GET answers the exposition, other methods 405,
#       other paths 404
#   m   the mail: 3 messages A -> B sealed and opened; 1 infected message
#       refused by A (clamd); B gets the first sealed copy again from
#       outside (a duplicate: discarded), a tampered copy (refused with its
#       check), plaintext naming the require partner a.example (refused,
#       spoofed-partner) and plaintext from a stranger (untouched)
#   pr  Prometheus's HTTP API (curl + jq): every family exists for all
#       three targets, and counts exactly what m sent - messages by
#       direction/decision/check, seal and open histogram _count, broker
#       lookups and cache hits/misses, clamd scans by verdict, duplicates,
#       the broker's token and key container issuance, enrollments and
#       lookup histogram
#   rl  configuration reloads: SIGUSR1 at A (ok) and at B with a broken
#       file (refused), counted by result
#
# KEEP=1 keeps the work directory. ONLY="cf pr" runs only those scenarios
# (pr and rl need m).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/federation.sh
. contrib/test/lib/federation.sh
. contrib/test/lib/messages.sh
. contrib/test/lib/checks.sh
. contrib/test/lib/clamd.sh
fed_suite metrics || exit 1
PROM_PID=
fed_suite_cleanup() {
    if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; fi
    clamd_private_stop >/dev/null 2>&1 || true
}

. contrib/test/lib/scenarios.sh
START=$(date +%s)
SUITE=t-metrics
diagnose() {
    for o in a b; do [ -e "$(fed_milter_log "$o")" ] || continue; echo "--- milter $o (last lines)"; tail -n 12 "$(fed_milter_log "$o")"; done
    [ -e "$BASE/prometheus/prometheus.log" ] && { echo "--- prometheus (last lines)"; tail -n 8 "$BASE/prometheus/prometheus.log"; }
}
DIE_HOOK=diagnose

[ "$(id -u)" = 0 ] || die "needs root (private Postfix instances)"
for tool in swaks python3 curl jq openssl postconf prometheus; do command -v "$tool" >/dev/null || die "$tool missing (contrib/scripts/install-deps.sh)"; done

MARK=$(date +%s)-$$
A=127.0.0.190 B=127.0.0.200 PROM=127.0.0.195 OUTSIDE=127.0.0.199
MILTER_BIN=$FEDMAIL_BIN/fedmail-milter
# quiet CMD...: CMD without its output
quiet() { "$@" >/dev/null 2>&1; }
# free_port ADDR: a TCP port free on ADDR
free_port() { python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1]); s.close()' "$1"; }
METRICS_A=$A:$(free_port $A)
METRICS_B=$B:$(free_port $B)
PROM_ADDR=$PROM:$(free_port $PROM)

# ------------------------------------------------------------------ federation
echo "== setting up: broker, a ($A) and b ($B) enrolled, private clamd for a"
fed_broker_start || die "broker did not start"
fed_org a $A p256 a.example || die "org a"
fed_org b $B p256 b.example || die "org b"
clamd_private_start "$BASE/clamd" 25M || die "private clamd did not start"
fed_allowlist a <<'L'
b.example     require
L
fed_allowlist b <<'L'
a.example     require
L
fed_route a b tap; fed_route b a
for box in alice@a.example; do fed_mailbox a "$box"; done
for box in bob@b.example carol@b.example; do fed_mailbox b "$box"; done
fed_milter_conf a "MetricsListen $METRICS_A" "ClamdSocket $CLAMD_INET" "ClamdTimeout 20s"
fed_milter_conf b "MetricsListen $METRICS_B"
for o in a b; do
    out=$("$MILTER_BIN" -n -c "$(fed_dir $o)/milter.conf" 2>&1) || die "fedmail-milter -n refuses the config of $o: $out"
done
pass "fedmail-milter -n accepts MetricsListen $METRICS_A and $METRICS_B"
for o in a b; do fed_start "$o" || die "starting $o"; done
check "milter a says where it serves metrics" log_has a 0 "metrics served at http://$METRICS_A/metrics"
check "milter b says where it serves metrics" log_has b 0 "metrics served at http://$METRICS_B/metrics"

# ------------------------------------------------------------------ cf
if want cf; then
scenario cf "MetricsListen configuration errors"
# refused CONF-LINE EXPECTED-TEXT: fedmail-milter -n exits non-zero naming line 2 and the text
refused() {
    local f=$BASE/cf.conf out status=0
    printf 'Socket local:%s/cf.sock\n%s\n' "$BASE" "$1" >"$f"
    out=$("$MILTER_BIN" -n -c "$f" 2>&1) || status=$?
    if [ "$status" != 0 ] && grep -qF "cf.conf:2" <<<"$out" && grep -qF -- "$2" <<<"$out"; then
        pass "'$1' refused (exit $status): $(head -n1 <<<"$out" | cut -c1-160)"
    else
        fail "'$1': exit $status, said: $out"
    fi
}
refused "MetricsListen 192.0.2.10:9466" "is not a loopback address"
refused "MetricsListen 0.0.0.0:9466" "MetricsFromAnywhere yes"
refused "MetricsListen 127.0.0.1:70000" "not a number from 1 to 65535"
refused "MetricsListen metrics.example:9466" "is not an IP address"
refused "MetricsListen ::1:9466" "in brackets"
printf 'Socket local:%s/cf.sock\nMetricsListen none\n' "$BASE" >"$BASE/cf.conf"
check "'MetricsListen none' accepted" quiet "$MILTER_BIN" -n -c "$BASE/cf.conf"
printf 'Socket local:%s/cf.sock\nMetricsListen 192.0.2.10:9466\nMetricsFromAnywhere yes\n' "$BASE" >"$BASE/cf.conf"
check "a non-loopback address accepted with MetricsFromAnywhere yes" quiet "$MILTER_BIN" -n -c "$BASE/cf.conf"
# A port in use (milter a's): the daemon does not start, and says why.
printf 'Socket local:%s/cf.sock\nSyslog no\nBackground no\nTemporaryDirectory %s\nMetricsListen %s\n' "$BASE" "$BASE" "$METRICS_A" >"$BASE/cf.conf"
status=0; out=$(timeout 20 "$MILTER_BIN" -f -c "$BASE/cf.conf" 2>&1) || status=$?
if [ "$status" != 0 ] && [ "$status" != 124 ] && grep -qF "MetricsListen $METRICS_A: cannot listen" <<<"$out"; then
    pass "a port in use stops the start (exit $status): $(grep -m1 -F 'cannot listen' <<<"$out" | sed 's/^.*MetricsListen/MetricsListen/' | cut -c1-140)"
else
    fail "a port in use: exit $status, said: $(tail -n 3 <<<"$out")"
fi
[ -e "$BASE/cf.sock" ] && fail "the refused daemon left its socket" || pass "the refused daemon left no socket"
fi

# ------------------------------------------------------------------ hp
if want hp; then
scenario hp "/metrics over HTTP"
body=$(curl -sf "http://$METRICS_A/metrics") && pass "GET http://$METRICS_A/metrics answers" || fail "GET /metrics failed"
grep -q '^# TYPE fedmail_milter_messages_total counter' <<<"$body" && pass "Prometheus text format (# TYPE lines)" || fail "no # TYPE line"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "http://$METRICS_A/metrics")
[[ $ctype == text/plain* ]] && pass "Content-Type $ctype" || fail "Content-Type '$ctype'"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "http://$METRICS_A/metrics")
[ "$code" = 405 ] && pass "POST /metrics -> 405" || fail "POST /metrics -> $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS_A/other")
[ "$code" = 404 ] && pass "GET /other -> 404" || fail "GET /other -> $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "http://$METRICS_A/metrics")
[ "$code" = 431 ] && pass "a 9 KB request head -> 431" || fail "a 9 KB request head -> $code"
fi

# ------------------------------------------------------------------ prometheus
echo "== starting a private Prometheus on $PROM_ADDR"
mkdir -p "$BASE/prometheus/data"
cat >"$BASE/prometheus/prometheus.yml" <<YML
# t-metrics: both milters and the broker, every second
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fedmail-milter
    static_configs:
      - targets: ['$METRICS_A']
        labels: {gateway: a}
      - targets: ['$METRICS_B']
        labels: {gateway: b}
  - job_name: fedmail-broker
    scheme: https
    tls_config:
      ca_file: $FED_BROKER_CA
    static_configs:
      - targets: ['127.0.0.1:$FED_BROKER_PORT']
YML
prometheus --config.file="$BASE/prometheus/prometheus.yml" --storage.tsdb.path="$BASE/prometheus/data" \
    --web.listen-address="$PROM_ADDR" >"$BASE/prometheus/prometheus.log" 2>&1 &
PROM_PID=$!
for _ in $(seq 1 150); do curl -sf "http://$PROM_ADDR/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://$PROM_ADDR/-/ready" >/dev/null || die "Prometheus is not ready on $PROM_ADDR"
pass "Prometheus $(prometheus --version 2>&1 | awk 'NR==1 { print $3 }') ready on $PROM_ADDR"

# prom QUERY: the value of an instant query's first sample ("none" when the result is empty)
prom() {
    curl -sf -G "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$1" \
        | jq -r 'if .status == "success" and (.data.result | length) > 0 then .data.result[0].value[1] else "none" end'
}
# want_value WHAT QUERY EXPECTED [SECONDS]: the query reaches EXPECTED (waits for scrapes), else fail with the last value
want_value() {
    local v=none
    for _ in $(seq 1 $((${4:-20} * 2))); do
        v=$(prom "$2")
        [ "$v" = "$3" ] && { pass "$1: $2 = $v"; return 0; }
        sleep 0.5
    done
    fail "$1: $2 = $v, expected $3"
}
targets_up() { [ "$(prom 'sum(up{job=~"fedmail-.*"})')" = 3 ]; }
for _ in $(seq 1 40); do targets_up && break; sleep 0.5; done
check "Prometheus scrapes all three targets (up = 1)" targets_up

# ------------------------------------------------------------------ m
M_SENT=0
if want m; then
scenario m "mail through both gateways"
submit() { # submit TO SUBJECT BODY
    swaks --server "$A:$(fed_port a)" --local-interface "$(fed_client a)" --from alice@a.example --to "$1" \
        --h-From "Alice <alice@a.example>" --h-Subject "$2" --body "$3" --timeout 60 2>&1
}
for n in 1 2 3; do
    out=$(submit bob@b.example "Metrics $n $MARK" "message $n of t-metrics")
    grep -q "250 2.0.0 Ok" <<<"$out" && pass "A accepted sealed message $n" || fail "A refused message $n: $(grep -E '^<\*\*' <<<"$out" | head -n1)"
done
check "B delivered the 3 opened messages" wait_delivered b "of t-metrics" 3 60
out=$(submit bob@b.example "Infected $MARK" "$(clamd_test_marker)")
line=$(grep -m1 -E '^<\*\* +5' <<<"$out" | sed -E 's/^<\*\* +//' | tr -d '\r')
[[ $line == 550* ]] && pass "A refused the infected message: '$line'" || fail "the infected message: '${line:-accepted}'"

# The sealed copies on the wire; the first one again from outside, and tampered.
first=$(grep -lF -- "alice@a.example" "$(fed_tap_dir a b)"/msg-*.eml 2>/dev/null | head -n1)
[ -n "$first" ] && sealed_wire "$first" && pass "the wiretap has the sealed copy $(basename "$first")" || die "no sealed copy on the A->B wire"
out=$(send_file "$B:$(fed_port b)" "$OUTSIDE" alice@a.example bob@b.example "$first" 2>&1)
expect_reply "the same sealed copy again (a duplicate)" "$out" accepted
python3 - "$first" "$BASE/tampered.eml" <<'P'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
body = data.index(b"\r\n\r\n") + 4 if b"\r\n\r\n" in data else data.index(b"\n\n") + 2
i = body + (len(data) - body) // 2
while chr(data[i]) not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz": i += 1
data[i] = ord("B") if data[i] == ord("A") else ord("A")
open(sys.argv[2], "wb").write(data)
P
mark=$(logmark b)
out=$(send_file "$B:$(fed_port b)" "$OUTSIDE" alice@a.example carol@b.example "$BASE/tampered.eml" 2>&1)
expect_reply "a tampered sealed copy" "$out" "550 5.7.1 FedMail:"
log_has b "$mark" "direction=inbound decision=reject" 5
TAMPER_CHECK=$(log_line b "$mark" "direction=inbound decision=reject" | sed -nE 's/^.*decision=reject \(([a-z0-9-]+):.*$/\1/p')
[ -n "$TAMPER_CHECK" ] && pass "B logged the failed check: $TAMPER_CHECK" || fail "no check in B's log: $(log_line b "$mark" "decision=")"
msg "$BASE/spoof.eml" "From: CEO <ceo@a.example>" "To: bob@b.example" "Subject: Spoof $MARK" "Message-ID: <spoof-$MARK@a.example>" -- "pay now"
out=$(send_file "$B:$(fed_port b)" "$OUTSIDE" ceo@a.example bob@b.example "$BASE/spoof.eml" 2>&1)
expect_reply "plaintext naming the require partner a.example" "$out" "550 5.7.1 FedMail: a.example requires sealed mail"
msg "$BASE/plain.eml" "From: Someone <someone@stranger.example>" "To: bob@b.example" "Subject: Plain $MARK" "Message-ID: <plain-$MARK@stranger.example>" -- "hello"
out=$(send_file "$B:$(fed_port b)" "$OUTSIDE" someone@stranger.example bob@b.example "$BASE/plain.eml" 2>&1)
expect_reply "plaintext from a stranger" "$out" accepted
check "B delivered the plaintext" wait_delivered b "Plain $MARK" 1 30
M_SENT=1
fi

# ------------------------------------------------------------------ pr
if want pr && [ "$M_SENT" = 1 ]; then
scenario pr "Prometheus counts exactly what was sent"
MA='job="fedmail-milter",gateway="a"' MB='job="fedmail-milter",gateway="b"' BR='job="fedmail-broker"'
for family in fedmail_milter_messages_total fedmail_milter_seal_duration_seconds_bucket fedmail_milter_open_duration_seconds_bucket \
    fedmail_milter_broker_lookup_duration_seconds_bucket fedmail_milter_broker_cache_hits_total fedmail_milter_broker_cache_misses_total \
    fedmail_milter_clamd_scan_duration_seconds_bucket fedmail_milter_clamd_scans_total fedmail_milter_reinjections_total \
    fedmail_milter_duplicates_discarded_total fedmail_milter_spool_bytes fedmail_milter_config_reloads_total \
    fedmail_milter_split_in_doubt_copies fedmail_milter_split_in_doubt_bytes; do
    want_value "both milters export $family" "count(count by (gateway) ($family{job=\"fedmail-milter\"}))" 2 10
done
for family in fedmail_broker_enrollments_total fedmail_broker_issued_total fedmail_broker_lookup_duration_seconds_bucket \
    fedmail_broker_authentications_refused_total fedmail_broker_tokens_issued_total fedmail_broker_request_duration_seconds_bucket \
    fedmail_broker_organizations fedmail_broker_enrollments_pending; do
    want_value "the broker exports $family" "count($family{$BR}) > bool 0" 1 10
done
# A
want_value "A: sealed" "fedmail_milter_messages_total{$MA,direction=\"outbound\",decision=\"sealed\",check=\"none\"}" 3
want_value "A: the infected message refused" "fedmail_milter_messages_total{$MA,direction=\"outbound\",decision=\"reject\",check=\"infected\"}" 1
want_value "A: nothing else decided" "sum(fedmail_milter_messages_total{$MA})" 4
want_value "A: seal latency histogram count" "fedmail_milter_seal_duration_seconds_count{$MA}" 3
want_value "A: seal latency +Inf bucket" "fedmail_milter_seal_duration_seconds_bucket{$MA,le=\"+Inf\"}" 3
want_value "A: broker lookups (one per message)" "fedmail_milter_broker_lookup_duration_seconds_count{$MA,result=\"ok\"}" 4
want_value "A: token cache misses (the first message)" "fedmail_milter_broker_cache_misses_total{$MA}" 1
want_value "A: token cache hits (the other three)" "fedmail_milter_broker_cache_hits_total{$MA}" 3
want_value "A: clamd clean verdicts" "fedmail_milter_clamd_scans_total{$MA,verdict=\"clean\"}" 3
want_value "A: clamd infected verdicts" "fedmail_milter_clamd_scans_total{$MA,verdict=\"infected\"}" 1
want_value "A: clamd scan latency count" "fedmail_milter_clamd_scan_duration_seconds_count{$MA}" 4
want_value "A: no re-injection (no mixed recipients)" "sum(fedmail_milter_reinjections_total{$MA})" 0
want_value "A: no sealed copy kept in doubt" "fedmail_milter_split_in_doubt_copies{$MA}" 0
# B
want_value "B: opened" "fedmail_milter_messages_total{$MB,direction=\"inbound\",decision=\"opened\",check=\"none\"}" 3
want_value "B: open latency histogram count" "fedmail_milter_open_duration_seconds_count{$MB}" 3
want_value "B: the duplicate discarded" "fedmail_milter_messages_total{$MB,direction=\"inbound\",decision=\"discard\",check=\"none\"}" 1
want_value "B: duplicates by the replay ledger" "fedmail_milter_duplicates_discarded_total{$MB,ledger=\"replay\"}" 1
want_value "B: the tampered copy refused by its check (${TAMPER_CHECK:-?})" \
    "fedmail_milter_messages_total{$MB,direction=\"inbound\",decision=\"reject\",check=\"${TAMPER_CHECK:-?}\"}" 1
want_value "B: the spoofed partner refused" "fedmail_milter_messages_total{$MB,direction=\"inbound\",decision=\"reject\",check=\"spoofed-partner\"}" 1
want_value "B: the stranger's plaintext untouched" "fedmail_milter_messages_total{$MB,direction=\"inbound\",decision=\"untouched\",check=\"none\"}" 1
want_value "B: nothing else decided" "sum(fedmail_milter_messages_total{$MB})" 7
want_value "B: no clamd configured, no scans" "sum(fedmail_milter_clamd_scans_total{$MB})" 0
want_value "B: spool bytes reported (idle: 0)" "fedmail_milter_spool_bytes{$MB}" 0
want_value "no label names an address or a domain" \
    "count({__name__=~\"fedmail_.*\",direction=~\".*@.*|.*\\\\..*\"} or {__name__=~\"fedmail_.*\",check=~\".*@.*|.*\\\\..*\"}) or vector(0)" 0 2
# Broker
want_value "broker: tokens issued (A's one lookup that missed the cache)" "fedmail_broker_issued_total{$BR,kind=\"token\"}" 1
want_value "broker: key containers issued with it" "fedmail_broker_issued_total{$BR,kind=\"key-container\"}" 1
want_value "broker: the older tokens_issued series agrees" "fedmail_broker_tokens_issued_total{$BR}" 1
want_value "broker: token lookups answered" "fedmail_broker_lookup_duration_seconds_count{$BR}" 1
want_value "broker: enrollments submitted (a and b)" "fedmail_broker_enrollments_total{$BR,event=\"submitted\"}" 2
want_value "broker: refused authentications exist by reason (none refused)" "sum(fedmail_broker_authentications_refused_total{$BR})" 0
want_value "broker: organizations active in the store (a and b, approved by fedmail-broker commands)" "fedmail_broker_organizations{$BR,status=\"active\"}" 2
want_value "broker: no organization revoked" "fedmail_broker_organizations{$BR,status=\"revoked\"}" 0
want_value "broker: no enrollment waiting for approval" "fedmail_broker_enrollments_pending{$BR}" 0
for h in seal open clamd_scan broker_lookup; do
    v=$(prom "histogram_quantile(0.95, sum by (le) (increase(fedmail_milter_${h}_duration_seconds_bucket{job=\"fedmail-milter\"}[10m])))")
    [[ $v =~ ^[0-9.e+-]+$ ]] && pass "p95 $h latency from the histogram: $v s" || fail "p95 $h latency: $v"
done
# The Grafana dashboard: valid JSON, the data source a template variable,
# and every panel's query accepted by this Prometheus and answering with data.
DASH=contrib/grafana/fedmail-dashboard.json
check "the dashboard is valid JSON with a datasource variable" \
    quiet jq -e '[.templating.list[] | select(.type == "datasource" and .name == "datasource")] | length == 1' "$DASH"
bad=0 empty=0 total=0
while IFS= read -r expr; do
    total=$((total + 1))
    q=$(sed -e 's/\$__rate_interval/1m/g' -e 's/\$milter_job/.*/g' -e 's/\$milter_instance/.*/g' -e 's/\$broker_job/.*/g' <<<"$expr")
    # A rate needs two scrapes of a series: one created by the last message
    # sent may have only one yet, so an empty answer is asked again (10 s).
    for _ in $(seq 1 20); do
        r=$(curl -s -G "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$q")
        [ "$(jq -r .status <<<"$r")" = success ] && [ "$(jq '.data.result | length' <<<"$r")" = 0 ] || break
        sleep 0.5
    done
    if [ "$(jq -r .status <<<"$r")" != success ]; then bad=$((bad + 1)); echo "    refused: $q: $(jq -r .error <<<"$r")"
    elif [ "$(jq '.data.result | length' <<<"$r")" = 0 ]; then empty=$((empty + 1)); echo "    no data: $q"; fi
done < <(jq -r '.panels[] | select(.type != "row") | .targets[].expr' "$DASH")
[ "$bad" = 0 ] && pass "Prometheus accepts all $total dashboard queries" || fail "$bad of $total dashboard queries refused"
[ "$empty" = 0 ] && pass "every dashboard query has data" || fail "$empty of $total dashboard queries have no data"
fi

# Scrapes as they are now (kept with KEEP=1).
curl -sf "http://$METRICS_B/metrics" >"$BASE/scrape-milter-b.txt"
curl -sf "http://$METRICS_A/metrics" >"$BASE/scrape-milter-a.txt"
curl -sf --cacert "$FED_BROKER_CA" "$FED_BROKER_URL/metrics" >"$BASE/scrape-broker.txt"

# ------------------------------------------------------------------ rl
if want rl && [ "$M_SENT" = 1 ]; then
scenario rl "configuration reloads counted by result"
mark=$(logmark a)
kill -USR1 "$FM_PID_a"
check "A reloaded" log_has a "$mark" "configuration reloaded" 10
want_value "A: reload ok" "fedmail_milter_config_reloads_total{job=\"fedmail-milter\",gateway=\"a\",result=\"ok\"}" 1
cp "$(fed_dir b)/milter.conf" "$BASE/milter-b.conf.good"
echo "NoSuchSetting yes" >>"$(fed_dir b)/milter.conf"
mark=$(logmark b)
kill -USR1 "$FM_PID_b"
check "B refused the broken configuration" log_has b "$mark" "reload refused" 10
cp "$BASE/milter-b.conf.good" "$(fed_dir b)/milter.conf"
want_value "B: reload refused" "fedmail_milter_config_reloads_total{job=\"fedmail-milter\",gateway=\"b\",result=\"refused\"}" 1
want_value "B: no reload ok" "fedmail_milter_config_reloads_total{job=\"fedmail-milter\",gateway=\"b\",result=\"ok\"}" 0
fi

echo "t-metrics: $(($(date +%s) - START)) s"
summary t-metrics
