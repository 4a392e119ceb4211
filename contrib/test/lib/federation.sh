# A FedMail federation on loopback for tests and the demo. Source this file.
#
# One trust broker (fedmail-broker serve, SQLite) and N organizations. Each
# organization is:
#   - a key made with `fedmailctl keygen`, enrolled with `fedmailctl enroll`
#     and approved by the operator with `fedmail-broker org approve`;
#   - its own private Postfix (contrib/test/lib/postfix.sh) listening on its
#     own loopback address (127.0.0.10, 127.0.0.20, ...) and sending from it,
#     with smtpd_milters and non_smtpd_milters pointing at
#   - its own fedmail-milter (Mode both; InternalHosts = the org's address);
#   - a re-injection smtpd without milters on the org's address (Reinject),
#     and the same on the unix socket public/fedmail-reinject of its queue
#     directory, which the milter uses when FED_REINJECT_VIA names the org.
# Organizations route each other's domains with transport_maps, directly or
# through an SMTP wiretap (smtp-tap.py) that records the bytes on the wire.
#
#   fed_suite NAME                    a suite's start: BASE=/tmp/fedmail-t-NAME.*,
#                                     fed_setup there, and an EXIT trap that
#                                     runs fed_suite_cleanup (when the suite
#                                     defines it), fed_cleanup, and removes
#                                     BASE unless KEEP=1
#   fed_setup BASE                    set up under BASE (sources the other libs)
#   fed_broker_start / fed_broker_stop / fed_broker_restart
#                                     the broker on a fixed loopback port
#                                     (FED_BROKER_DATABASE: its Database URL,
#                                     SQLite by default; FED_TOKEN_LIFETIME:
#                                     its token and key-container lifetime, 24h)
#   fed_org NAME ADDR KEYTYPE DOMAIN...
#                                     keys + enrollment + Postfix (not started);
#                                     KEYTYPE rsa3072 or p256
#   fed_org_sendmail NAME ADDR KEYTYPE DOMAIN...
#                                     the same with a real Sendmail as the
#                                     gateway MTA (lib/sendmail.sh); route it
#                                     with fed_route before fed_start
#   fed_org_static NAME ADDR KEYTYPE DOMAIN...
#                                     an org outside the broker: key,
#                                     self-signed certificate, Postfix, a
#                                     milter without broker (partners pin
#                                     its certificate with cert=)
#   fed_enroll NAME ADDR KEYTYPE DOMAIN...
#                                     keys + enrollment + ports only (no MTA)
#   fed_register NAME ADDR DOMAIN...  ports, address and domains of an org
#   fed_plain NAME ADDR DOMAIN...     a plain Postfix (no FedMail) for a domain
#   fed_allowlist NAME < LINES        the org's federation allowlist
#   fed_milter_conf NAME [LINE...]    (re)write the org's milter config; extra
#                                     "Name value" lines override defaults,
#                                     "-Name" drops a default
#   fed_start NAME                    start milter (if any) and Postfix
#   fed_milter_restart NAME           stop and start the org's milter
#   fed_route FROM TO [tap]           FROM sends TO's domains directly to TO's
#                                     smtpd, or with "tap" through a wiretap
#                                     recording into $(fed_tap_dir FROM TO)
#   fed_tap_dir FROM TO               the wiretap's directory
#   fed_mailbox NAME ADDRESS          deliver ADDRESS into its own Maildir
#   fed_port NAME / fed_addr NAME     the org's smtpd port / address
#   fed_client NAME                   the address its users submit from
#   fed_broker_metric NAME            a broker counter from GET /metrics
#   fed_cleanup                       stop everything started here
#
# Needs root. FEDMAIL_BIN: directory of the built binaries.

FED_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FED_TAP_PIDS=()
FED_ORGS=()

fed_suite() {
    BASE=$(mktemp -d "/tmp/fedmail-t-$1.XXXXXX") || return 1
    fed_setup "$BASE" || return 1
    trap fed_suite_exit EXIT
}

fed_suite_exit() {
    if declare -F fed_suite_cleanup >/dev/null; then fed_suite_cleanup; fi
    fed_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $BASE"; else rm -rf "$BASE"; fi
}

fed_setup() {
    FED_BASE=$1
    mkdir -p "$FED_BASE"; chmod 755 "$FED_BASE"
    FEDMAIL_BIN=${FEDMAIL_BIN:-$(cd "$FED_LIB/../../.." && swift build --show-bin-path)}
    export FEDMAIL_BIN
    FM_DIR=$FED_BASE/milter-logs; PF_BASE=$FED_BASE/postfix
    mkdir -p "$FM_DIR" "$PF_BASE"; chmod 755 "$FM_DIR" "$PF_BASE"
    # shellcheck source=postfix.sh
    . "$FED_LIB/postfix.sh"
    # shellcheck source=fedmail-milter.sh
    . "$FED_LIB/fedmail-milter.sh"
    # shellcheck source=sendmail.sh
    . "$FED_LIB/sendmail.sh"
    FED_CTL=$FEDMAIL_BIN/fedmailctl
    FED_BROKER=$FEDMAIL_BIN/fedmail-broker
    local tool
    for tool in "$FED_CTL" "$FED_BROKER" "$FEDMAIL_BIN/fedmail-milter"; do
        [ -x "$tool" ] || { echo "federation: $tool is not built"; return 1; }
    done
}

# ------------------------------------------------------------------ broker
fed_broker_start() {
    local dir=$FED_BASE/broker
    if [ ! -e "$dir/broker.conf" ]; then
        mkdir -p "$dir/state"
        FED_BROKER_PORT=$(pf_free_port)
        cat >"$dir/broker.conf" <<CONF
# FedMail test federation broker (contrib/test/lib/federation.sh)
Listen          127.0.0.1:$FED_BROKER_PORT
StateDir        $dir/state
Database        ${FED_BROKER_DATABASE:-sqlite:$dir/state/broker.db}
ServerName      localhost, 127.0.0.1
BrokerName      FedMail Test Federation
KeyContainerLifetime ${FED_TOKEN_LIFETIME:-24h}
TokenLifetime   ${FED_TOKEN_LIFETIME:-24h}
LogLevel        ${BROKER_LOG_LEVEL:-notice}
CONF
        "$FED_BROKER" -c "$dir/broker.conf" init >>"$dir/broker.log" 2>&1 || { echo "broker init failed:"; cat "$dir/broker.log"; return 1; }
        cp "$dir/state/ca.crt" "$dir/ca.crt"; chmod 644 "$dir/ca.crt"
        FED_BROKER_URL=https://127.0.0.1:$FED_BROKER_PORT
        FED_BROKER_CA=$dir/ca.crt
    fi
    "$FED_BROKER" -c "$dir/broker.conf" serve >>"$dir/broker.log" 2>&1 &
    FED_BROKER_PID=$!
    for _ in $(seq 1 200); do
        if curl -sf --cacert "$FED_BROKER_CA" "$FED_BROKER_URL/healthz" >/dev/null 2>&1; then return 0; fi
        kill -0 "$FED_BROKER_PID" 2>/dev/null || { echo "broker died:"; tail -n 20 "$dir/broker.log"; return 1; }
        sleep 0.1
    done
    echo "broker does not answer on $FED_BROKER_URL"; tail -n 20 "$dir/broker.log"; return 1
}

fed_broker_stop() {
    [ -n "${FED_BROKER_PID:-}" ] || return 0
    kill "$FED_BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$FED_BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FED_BROKER_PID" 2>/dev/null || true
    wait "$FED_BROKER_PID" 2>/dev/null || true
    FED_BROKER_PID=
}

fed_broker_restart() { fed_broker_stop; fed_broker_start; }

# fed_broker_metric NAME: the value of a counter, e.g. fedmail_broker_tokens_issued_total (0 when absent).
fed_broker_metric() {
    curl -sf --cacert "$FED_BROKER_CA" "$FED_BROKER_URL/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) + 0 }'
}

# ------------------------------------------------------------------ organizations
fed_dir() { echo "$FED_BASE/org/$1"; }
fed_port() { local v="FED_PORT_$1"; echo "${!v}"; }
fed_addr() { local v="FED_ADDR_$1"; echo "${!v}"; }
fed_domains() { local v="FED_DOMAINS_$1"; echo "${!v}"; }
# fed_client NAME: the address of the org's internal clients (ADDR + 1):
# users' submissions come from there (swaks --local-interface), and the
# milter counts it, with the gateway's own address, as InternalHosts.
fed_client() { local a; a=$(fed_addr "$1"); echo "${a%.*}.$(( ${a##*.} + 1 ))"; }

fed_org() {
    local name=$1 addr=$2 keytype=$3; shift 3
    fed_enroll "$name" "$addr" "$keytype" "$@" || return 1
    fed_gateway_postfix "$name" "$addr" "$@"
}

# fed_org_static NAME ADDR KEYTYPE DOMAIN...: an organization outside the
# broker, reached through static partner certificates (the allowlist's
# cert=): its key and a self-signed certificate made with openssl as the
# README shows (FED_STATIC_EXTRA_SAN adds dNSNames, e.g. a domain it does
# not own), its Postfix and a fedmail-milter without BrokerURL/BrokerCA.
fed_org_static() {
    local name=$1 addr=$2 keytype=$3; shift 3
    local dir; dir=$(fed_dir "$name")
    mkdir -p "$dir/keys" "$dir/tmp"
    chmod 700 "$dir/keys"; chmod 755 "$dir"
    "$FED_CTL" keygen --type "$keytype" --out "$dir/keys/org.key" >>"$dir/enroll.log" 2>&1 || { echo "keygen $name failed"; cat "$dir/enroll.log"; return 1; }
    local san="" d usage=digitalSignature,keyAgreement
    [ "$keytype" = rsa3072 ] && usage=digitalSignature,keyEncipherment
    for d in "$@" ${FED_STATIC_EXTRA_SAN:-}; do san+="${san:+,}DNS:$d"; done
    openssl req -new -x509 -key "$dir/keys/org.key" -days 30 -subj "/O=$name/CN=$1" \
        -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,$usage" -addext "extendedKeyUsage=emailProtection" \
        -out "$dir/keys/org.crt" >>"$dir/enroll.log" 2>&1 || { echo "self-signed certificate of $name failed"; cat "$dir/enroll.log"; return 1; }
    chown -R postfix:postfix "$dir/keys" "$dir/tmp"
    fed_register "$name" "$addr" "$@"
    fed_gateway_postfix "$name" "$addr" "$@"
    fed_milter_conf "$name" -BrokerURL -BrokerCA -TokenCacheDir
}

# fed_gateway_postfix NAME ADDR DOMAIN...: the org's Postfix with its
# milter socket and re-injection listener, an empty allowlist and the
# default milter configuration.
fed_gateway_postfix() {
    local name=$1 addr=$2; shift 2
    local dir reinject_var="FED_REINJECT_$name"
    dir=$(fed_dir "$name")
    PF_ADDR=$addr pf_init "$name" "$(fed_port "$name")" "$@"
    pf_add_listener "$name" "${!reinject_var}" -o smtpd_milters= -o non_smtpd_milters= -o "syslog_name=postfix-$name/reinject"
    # The same service on a unix socket in public/ (contrib/postfix/master.cf.fedmail):
    # the milter uses it when FED_REINJECT_VIA names the organization.
    pf_add_unix_listener "$name" fedmail-reinject -o smtpd_milters= -o non_smtpd_milters= -o "syslog_name=postfix-$name/reinject-unix"
    pf_set "$name" "smtpd_milters = unix:$dir/milter.sock" "non_smtpd_milters = unix:$dir/milter.sock" \
        "milter_default_action = tempfail" "smtp_discard_ehlo_keywords = chunking" \
        "message_size_limit = 20000000"
    : >"$dir/allowlist"
    fed_milter_conf "$name"
}

# fed_enroll NAME ADDR KEYTYPE DOMAIN...: the organization without its MTA:
# key, enrollment approved by the broker operator, certificate, its smtpd
# and re-injection ports (FED_PORT_NAME, FED_REINJECT_NAME), address and
# domains. fed_org adds Postfix; fed_org_sendmail adds Sendmail.
fed_enroll() {
    local name=$1 addr=$2 keytype=$3; shift 3
    local dir; dir=$(fed_dir "$name")
    mkdir -p "$dir/keys" "$dir/cache" "$dir/tmp"
    chmod 700 "$dir/keys"; chmod 755 "$dir"
    "$FED_CTL" keygen --type "$keytype" --out "$dir/keys/org.key" >>"$dir/enroll.log" 2>&1 || { echo "keygen $name failed"; cat "$dir/enroll.log"; return 1; }
    local domain args=() out id
    for domain in "$@"; do args+=(--domain "$domain"); done
    out=$("$FED_CTL" enroll --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$dir/keys/org.key" --org "$name" "${args[@]}" 2>&1) \
        || { echo "enroll $name failed: $out"; return 1; }
    echo "$out" >>"$dir/enroll.log"
    id=$(sed -n 's/^enrollment \([0-9a-f]*\) submitted.*/\1/p' <<<"$out" | head -n 1)
    [ -n "$id" ] || { echo "no enrollment id for $name in: $out"; return 1; }
    "$FED_BROKER" -c "$FED_BASE/broker/broker.conf" org approve --skip-dns-validation "$id" >>"$dir/enroll.log" 2>&1 || { echo "approve $name failed"; cat "$dir/enroll.log"; return 1; }
    "$FED_CTL" enroll --broker "$FED_BROKER_URL" --ca "$FED_BROKER_CA" --key "$dir/keys/org.key" --org "$name" --id "$id" \
        --wait --timeout 30 --interval 1 --cert "$dir/keys/org.crt" >>"$dir/enroll.log" 2>&1 || { echo "fetching the certificate of $name failed"; cat "$dir/enroll.log"; return 1; }
    # The milter runs as postfix: it owns its key (still mode 0600), cache and temp.
    chown -R postfix:postfix "$dir/keys" "$dir/cache" "$dir/tmp"
    fed_register "$name" "$addr" "$@"
}

# fed_register NAME ADDR DOMAIN...: the org's smtpd and re-injection ports
# (FED_PORT_NAME, FED_REINJECT_NAME), address and domains.
fed_register() {
    local name=$1 addr=$2; shift 2
    local port reinject
    port=$(pf_free_port); reinject=$(pf_free_port)
    printf -v "FED_PORT_$name" '%s' "$port"
    printf -v "FED_ADDR_$name" '%s' "$addr"
    printf -v "FED_REINJECT_$name" '%s' "$reinject"
    printf -v "FED_DOMAINS_$name" '%s' "$*"
    FED_ORGS+=("$name")
}

# fed_org_sendmail NAME ADDR KEYTYPE DOMAIN...: an organization whose
# gateway is a real Sendmail (contrib/test/lib/sendmail.sh) instead of
# Postfix: enrolled like fed_org, Sendmail on ADDR:PORT with the
# INPUT_MAIL_FILTER lines of contrib/sendmail/fedmail.mc pointing at the
# org's fedmail-milter, and a second Sendmail daemon without input filters
# for re-injection (Name=MTA-reinject, InputMailFilters= as in the snippet).
# fed_start, fed_route and fed_milter_conf work on it as on the others;
# SM_BASE defaults to $FED_BASE/sendmail.
fed_org_sendmail() {
    local name=$1 addr=$2 keytype=$3; shift 3
    SM_BASE=${SM_BASE:-$FED_BASE/sendmail}
    mkdir -p "$SM_BASE"
    sm_fetch || return 1
    fed_enroll "$name" "$addr" "$keytype" "$@" || return 1
    local dir reinject_var="FED_REINJECT_$name"
    dir=$(fed_dir "$name")
    printf -v "FED_MTA_$name" '%s' sendmail
    sm_init "$name" "$addr" "$(fed_port "$name")" "$@"
    sm_milter "$name" "local:$dir/milter.sock" "${!reinject_var}" || return 1
    : >"$dir/allowlist"
    fed_milter_conf "$name"
}

fed_mta() { local v="FED_MTA_$1"; echo "${!v:-postfix}"; }

# A Postfix with no FedMail at all (a domain outside the federation).
fed_plain() {
    local name=$1 addr=$2; shift 2
    local port; port=$(pf_free_port)
    printf -v "FED_PORT_$name" '%s' "$port"
    printf -v "FED_ADDR_$name" '%s' "$addr"
    printf -v "FED_DOMAINS_$name" '%s' "$*"
    PF_ADDR=$addr pf_init "$name" "$port" "$@"
    pf_set "$name" "smtp_discard_ehlo_keywords = chunking"
}

fed_allowlist() { cat >"$(fed_dir "$1")/allowlist"; chmod 644 "$(fed_dir "$1")/allowlist"; }

fed_milter_conf() {
    local name=$1; shift
    local dir; dir=$(fed_dir "$name")
    local reinject_var="FED_REINJECT_$name"
    local reinject="inet:${!reinject_var}@$(fed_addr "$name")"
    # FED_REINJECT_VIA="a b": those organizations re-inject through the
    # unix socket of their Postfix (as the shipped configuration does).
    if [[ " ${FED_REINJECT_VIA:-} " == *" $name "* ]]; then reinject="unix:$(pf_public_socket "$name" fedmail-reinject)"; fi
    local defaults
    defaults=$(cat <<CONF
Socket              local:$dir/milter.sock
UserID              postfix:postfix
UMask               007
Syslog              no
LogLevel            debug
TemporaryDirectory  $dir/tmp
Mode                both
Domains             $(fed_domains "$name" | tr ' ' ',')
AuthservID          mx.$name.test
InternalHosts       $(fed_addr "$name"), $(fed_client "$name")
OrgKey              $dir/keys/org.key
OrgCertificate      $dir/keys/org.crt
BrokerURL           $FED_BROKER_URL
BrokerCA            $FED_BROKER_CA
FederationAllowlist $dir/allowlist
TokenCacheDir       $dir/cache
StateDirectory      $dir/state
MixedRecipients     split
Reinject            $reinject
BrokerTimeout       5s
CONF
)
    # Overrides: drop the default line of every name given, then append
    # ("-Name" only drops it).
    local line key
    for line in "$@"; do
        key=${line%% *}; key=${key#-}
        defaults=$(awk -v k="$key" 'tolower($1) != tolower(k)' <<<"$defaults")
    done
    { echo "# fedmail-milter of organization $name (contrib/test/lib/federation.sh)"
      echo "$defaults"
      for line in "$@"; do if [ "${line#-}" = "$line" ]; then echo "$line"; fi; done; } >"$dir/milter.conf"
}

fed_start() {
    local name=$1 dir; dir=$(fed_dir "$name")
    if [ -e "$dir/milter.conf" ]; then
        fm_start "$name" "$dir/milter.conf" || return 1
    fi
    if [ "$(fed_mta "$name")" = sendmail ]; then sm_start "$name"; else pf_start "$name"; fi
}

fed_milter_restart() {
    local name=$1 dir; dir=$(fed_dir "$name")
    fm_stop "$name" || true
    # fm_start waits for "listening on" in the log: start from a fresh one.
    mv "$FM_DIR/$name.log" "$FM_DIR/$name.log.$(date +%s%N)" 2>/dev/null || true
    fm_start "$name" "$dir/milter.conf"
}

fed_milter_log() { echo "$FM_DIR/$1.log"; }

fed_mailbox() { pf_mailbox "$1" "$2"; }

fed_tap_dir() { echo "$FED_BASE/tap/$1-$2"; }

fed_route() {
    local from=$1 to=$2 how=${3:-direct}
    local host port domain
    host=$(fed_addr "$to"); port=$(fed_port "$to")
    if [ "$how" = tap ]; then
        local tapdir tport
        tapdir=$(fed_tap_dir "$from" "$to"); mkdir -p "$tapdir"
        tport=$(pf_free_port)
        python3 "$FED_LIB/smtp-tap.py" "$host:$tport" "$host:$port" "$(fed_addr "$from")" "$tapdir" 2>>"$tapdir/tap.log" &
        FED_TAP_PIDS+=("$!")
        for _ in $(seq 1 100); do [ -e "$tapdir/ready" ] && break; sleep 0.1; done
        [ -e "$tapdir/ready" ] || { echo "wiretap $from->$to did not start"; cat "$tapdir/tap.log"; return 1; }
        port=$tport
    fi
    if [ "$(fed_mta "$from")" = sendmail ]; then
        # Read when sendmail.cf is built: route before fed_start.
        for domain in $(fed_domains "$to"); do sm_route "$from" "$domain" "$host:$port"; done
        return 0
    fi
    for domain in $(fed_domains "$to"); do pf_route "$from" "$domain" "$host:$port"; done
    if [ -r "$(pf_dir "$from")/queue/pid/master.pid" ]; then postfix -c "$(pf_dir "$from")/etc" reload >/dev/null 2>&1 || true; fi
}

fed_cleanup() {
    pf_cleanup
    sm_cleanup
    fm_cleanup
    fed_broker_stop
    local pid
    for pid in "${FED_TAP_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}

# ------------------------------------------------------------------ the seal loop
# The seal loop of contrib/postfix/*.fedmail: mail for `require` partners
# leaves only through the milter, after Postfix's address expansion
# (virtual_alias_maps, aliases, .forward).
#
#   fed_master_options SERVICE        the "-o" settings (key=value, one a
#                                     line) of SERVICE's entry in
#                                     contrib/postfix/master.cf.fedmail
#   fed_seal_loop NAME TO             at NAME (a Postfix org) TO's domains no
#                                     longer go straight to where fed_route
#                                     sent them: transport_maps route them to
#                                     the transport fedmail-seal (an smtp
#                                     client) and a second smtpd of NAME that
#                                     runs NAME's milter (daemon name
#                                     FEDMAIL-SEAL, no address mappings),
#                                     whose content_filter hands what it
#                                     queued to the old next hop (TO's smtpd
#                                     or the wiretap). Both services are the
#                                     entries of master.cf.fedmail, unchrooted,
#                                     with this org's socket and addresses.
#                                     Call after fed_route NAME TO [tap]; the
#                                     listener's port is FED_SEAL_LOOP_NAME_TO.

FED_MASTER_CF=$FED_LIB/../../postfix/master.cf.fedmail

fed_master_options() {
    awk -v svc="$1" '
        /^[^ \t#]/ { inblock = ($1 == svc); next }
        inblock && /^[ \t]+-o[ \t]/ { sub(/^[ \t]+-o[ \t]+/, ""); print }
    ' "$FED_MASTER_CF"
}

fed_seal_loop() {
    local name=$1 to=$2
    local dir pfdir addr loop domain nexthop="" line key opts=()
    dir=$(fed_dir "$name"); pfdir=$(pf_dir "$name"); addr=$(fed_addr "$name")
    for domain in $(fed_domains "$to"); do
        nexthop=$(RE="/@${domain//./\\.}\$/" awk '$1 == ENVIRON["RE"] { print $2; exit }' "$pfdir/etc/transport.regexp")
        [ -n "$nexthop" ] && break
    done
    [ -n "$nexthop" ] || { echo "fed_seal_loop: $name has no route to $to (fed_route first)"; return 1; }
    [ -n "$(fed_master_options 127.0.0.1:10027)" ] || { echo "fed_seal_loop: no seal loop in $FED_MASTER_CF"; return 1; }
    if ! grep -q '^fedmail-seal[[:space:]]' "$pfdir/etc/master.cf"; then
        echo "fedmail-seal unix  -       -       n       -       -       smtp" >>"$pfdir/etc/master.cf"
        while IFS= read -r line; do
            [ "${line%%=*}" = syslog_name ] && line="syslog_name=postfix-$name/fedmail-seal"
            echo "  -o $line" >>"$pfdir/etc/master.cf"
        done < <(fed_master_options fedmail-seal)
    fi
    loop=$(pf_free_port)
    while IFS= read -r line; do
        key=${line%%=*}
        case $key in
            smtpd_milters) line="smtpd_milters=unix:$dir/milter.sock" ;;
            content_filter) line="content_filter=$nexthop" ;;
            syslog_name) line="syslog_name=postfix-$name/fedmail-sealer" ;;
        esac
        opts+=(-o "$line")
    done < <(fed_master_options 127.0.0.1:10027)
    pf_add_listener "$name" "$loop" "${opts[@]}"
    for domain in $(fed_domains "$to"); do
        RE="/@${domain//./\\.}\$/" HOP="fedmail-seal:[$addr]:$loop" \
            awk 'BEGIN { OFS = "\t" } $1 == ENVIRON["RE"] { $2 = ENVIRON["HOP"] } { print }' \
            "$pfdir/etc/transport.regexp" >"$pfdir/etc/transport.regexp.new" && mv "$pfdir/etc/transport.regexp.new" "$pfdir/etc/transport.regexp"
    done
    printf -v "FED_SEAL_LOOP_${name}_${to}" '%s' "$loop"
    if [ -r "$pfdir/queue/pid/master.pid" ]; then postfix -c "$pfdir/etc" reload >/dev/null 2>&1 || true; fi
}
