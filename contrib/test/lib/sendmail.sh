# Private Sendmail instances for tests: the real Sendmail of Debian
# (sendmail-bin), run without installing it. Source this file.
#
# Debian's sendmail-bin conflicts with postfix (both are "the MTA"), and
# the tests need Postfix installed. So the packages are fetched with
# `apt-get download` into a cache (SM_CACHE, default
# /var/cache/fedmail-test/sendmail) and unpacked there with `dpkg -x`; each
# instance runs that binary with its own sendmail.cf built by m4 from the
# Debian sendmail-cf macros, its own queue, and its own config directory.
#
# Sendmail looks up its own host name at start and logs only to syslog, so
# each instance runs in a private mount + UTS namespace (unshare) where
#   - the host name is mx and /etc/hosts says "ADDR mx.NAME.test mx",
#   - /etc/nsswitch.conf says "hosts: files" (no DNS on the test machine),
#   - /dev/log is a datagram socket read by a tiny syslog receiver that
#     writes the instance's log file (sm_log NAME).
# Nothing outside the instance directory and the cache is touched.
#
#   sm_fetch                          download + unpack once (cached); sets SM_ROOT
#   sm_init NAME ADDR PORT DOMAIN...  an instance listening on ADDR:PORT (Name=MTA),
#                                     sending from ADDR, relaying for 127.0.0.0/8
#                                     and for DOMAIN...; the mc is written at
#                                     sm_start from what the calls below add
#   sm_milter NAME SOCKET [REINJECT_PORT]
#                                     the lines of contrib/sendmail/fedmail.mc:
#                                     INPUT_MAIL_FILTER(`fedmail', `S=SOCKET, ...'),
#                                     the milter macros and, with REINJECT_PORT,
#                                     its filterless re-injection DAEMON_OPTIONS
#   sm_listener NAME PORT DAEMONNAME [OPTIONS]
#                                     another DAEMON_OPTIONS on ADDR:PORT, e.g.
#                                     "InputMailFilters=" (no filters: re-injection)
#   sm_route NAME DOMAIN HOST:PORT [LINELIMIT]
#                                     mailertable: DOMAIN goes to HOST:PORT by SMTP
#   sm_start NAME / sm_stop NAME      build sendmail.cf (m4) and run sendmail -bD -q10s
#   sm_dir NAME / sm_log NAME / sm_cf NAME
#   sm_queue NAME                     the queue listing (mailq)
#   sm_run NAME ARGS...               the instance's sendmail binary and .cf
#                                     (e.g. -bp -qQ: the quarantined messages)
#   sm_cleanup                        stop every instance started here
#   sm_version                        the sendmail-bin package version
#
# Needs root, unshare(1) with mount namespaces, apt-get (first run only),
# python3 (the syslog receiver). SM_BASE: a directory the test owns.

SM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SM_CACHE=${SM_CACHE:-/var/cache/fedmail-test/sendmail}
SM_STARTED=()
SM_PACKAGES=(sendmail-bin sendmail-base sendmail-cf m4 liblockfile1 libwrap0)

sm_dir() { echo "$SM_BASE/$1"; }
sm_log() { echo "$(sm_dir "$1")/maillog"; }
sm_cf() { echo "$(sm_dir "$1")/etc/sendmail.cf"; }

# sm_fetch: the unpacked packages under $SM_CACHE/root (SM_ROOT). Only the
# .debs are downloaded; nothing is installed, no maintainer script runs.
sm_fetch() {
    SM_ROOT=$SM_CACHE/root
    mkdir -p "$SM_CACHE/debs"
    # One fetch at a time (suites may run side by side on a fresh cache).
    local lock status
    exec {lock}>"$SM_CACHE/.lock"
    flock "$lock"
    sm_fetch_locked; status=$?
    exec {lock}>&-
    [ "$status" = 0 ] || return "$status"
    SM_LIBDIR=$(dirname "$(find "$SM_ROOT/usr/lib" -name 'libwrap.so.0' | head -n 1)")
}

sm_fetch_locked() {
    if [ -x "$SM_ROOT/usr/libexec/sendmail/sendmail" ] && [ -e "$SM_CACHE/unpacked" ]; then return 0; fi
    local p missing=()
    for p in "${SM_PACKAGES[@]}"; do
        compgen -G "$SM_CACHE/debs/${p}_*.deb" >/dev/null || missing+=("$p")
    done
    if ((${#missing[@]})); then
        # apt-get download writes into the current directory; as root it
        # warns that _apt cannot write there (harmless), so run it from a
        # directory _apt can write to and move the files afterwards.
        local tmp; tmp=$(mktemp -d /tmp/fedmail-sm-debs.XXXXXX); chmod 755 "$tmp"
        if ! (cd "$tmp" && apt-get download "${missing[@]}" >/dev/null 2>&1); then
            apt-get update -qq >/dev/null 2>&1 || true
            (cd "$tmp" && apt-get download "${missing[@]}" >/dev/null 2>&1) \
                || { echo "sendmail: apt-get download ${missing[*]} failed"; rm -rf "$tmp"; return 1; }
        fi
        mv "$tmp"/*.deb "$SM_CACHE/debs/"; rm -rf "$tmp"
    fi
    rm -rf "$SM_ROOT" "$SM_CACHE/unpacked"; mkdir -p "$SM_ROOT"
    local deb
    for deb in "$SM_CACHE"/debs/*.deb; do dpkg -x "$deb" "$SM_ROOT" || { echo "sendmail: dpkg -x $deb failed"; return 1; }; done
    # The binary is setgid smmsp/mail; the loader ignores LD_LIBRARY_PATH
    # (the unpacked libwrap0 and liblockfile1) for setgid programs, and the
    # tests run it as root anyway.
    chmod g-s "$SM_ROOT/usr/libexec/sendmail/sendmail"
    ( for deb in "$SM_CACHE"/debs/*.deb; do basename "$deb"; done ) >"$SM_CACHE/unpacked"
}

# sm_run NAME ARGS...: the unpacked sendmail binary with the instance's
# sendmail.cf, in a namespace with its host name and /etc/hosts (outside,
# Sendmail would wait for DNS to qualify the machine's host name).
sm_run() {
    local dir; dir=$(sm_dir "$1"); shift
    SM_ROOT=$SM_ROOT SM_LIBDIR=$SM_LIBDIR SM_DIR=$dir unshare --mount --uts bash -c '
        hostname mx
        mount --bind "$SM_DIR/etc/hosts" /etc/hosts && mount --bind "$SM_DIR/etc/nsswitch.conf" /etc/nsswitch.conf || exit 1
        export LD_LIBRARY_PATH=$SM_LIBDIR
        exec "$SM_ROOT/usr/libexec/sendmail/sendmail" -C "$SM_DIR/etc/sendmail.cf" "$@"
    ' sm_run "$@"
}

sm_init() {
    local name=$1 addr=$2 port=$3; shift 3
    local dir; dir=$(sm_dir "$name")
    mkdir -p "$dir/etc" "$dir/queue" "$dir/ns"
    chmod 755 "$SM_BASE" "$dir" "$dir/etc"; chmod 700 "$dir/queue"
    printf -v "SM_ADDR_$name" '%s' "$addr"
    printf -v "SM_PORT_$name" '%s' "$port"
    printf -v "SM_DOMAINS_$name" '%s' "$*"
    : >"$dir/etc/mailertable"; : >"$dir/mc.milter"; : >"$dir/mc.listeners"; : >"$dir/mc.mailers"
    printf '127.0.0.1\tlocalhost\n%s\tmx.%s.test mx\n' "$addr" "$name" >"$dir/etc/hosts"
    printf 'hosts: files\npasswd: files\ngroup: files\n' >"$dir/etc/nsswitch.conf"
    printf 'hosts\tfiles\naliases\tfiles\npasswd\tfiles\n' >"$dir/etc/service.switch"
    printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' >"$dir/etc/aliases"
    : >"$dir/etc/statistics"
}

sm_milter() {
    local name=$1 socket=$2 reinject=${3:-} dir addr_var="SM_ADDR_$1"
    dir=$(sm_dir "$name")
    local snippet=$SM_LIB/../../sendmail/fedmail.mc
    # The filter and macro lines of the shipped snippet, with this
    # instance's socket; with REINJECT, its re-injection DAEMON_OPTIONS line
    # too, moved to this instance's address and port.
    sed -n '/^INPUT_MAIL_FILTER(/p; /^define(`confMILTER_MACROS_/p' "$snippet" \
        | sed "s|S=local:/run/fedmail/milter.sock|S=$socket|" >"$dir/mc.milter"
    grep -q "S=$socket" "$dir/mc.milter" || { echo "sendmail: no INPUT_MAIL_FILTER line in $snippet"; return 1; }
    if [ -n "$reinject" ]; then
        sed -n '/^DAEMON_OPTIONS(.*InputMailFilters=/p' "$snippet" \
            | sed "s|Addr=127.0.0.1, Port=10026|Addr=${!addr_var}, Port=$reinject|" >>"$dir/mc.milter"
        grep -q "Port=$reinject, .*InputMailFilters=" "$dir/mc.milter" || { echo "sendmail: no re-injection DAEMON_OPTIONS line in $snippet"; return 1; }
    fi
}

sm_listener() {
    local name=$1 port=$2 daemon=$3 options=${4:-} addr_var="SM_ADDR_$1"
    echo "DAEMON_OPTIONS(\`Family=inet, Addr=${!addr_var}, Port=$port, Name=$daemon${options:+, $options}')dnl" >>"$(sm_dir "$name")/mc.listeners"
}

# sm_route NAME DOMAIN HOST:PORT [LINELIMIT]. Mailertable entries cannot
# carry a port, so each route gets its own SMTP mailer: a copy of esmtp with
# "A=TCP $h PORT". LINELIMIT is its L= (default 990, esmtp's: Sendmail
# breaks longer lines when it sends; 0: no limit).
sm_route() {
    local name=$1 domain=$2 hostport=$3 limit=${4:-990} dir; dir=$(sm_dir "$name")
    local host=${hostport%:*} port=${hostport##*:}
    local mailer="fedp${port}l$limit"
    grep -q "^M$mailer," "$dir/mc.mailers" || cat >>"$dir/mc.mailers" <<M
M$mailer,	P=[IPC], F=mDFMuXa8, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\\r\\n, L=$limit,
		T=DNS/RFC822/SMTP, A=TCP \$h $port
M
    printf '%s\t%s:[%s]\n' "$domain" "$mailer" "$host" >>"$dir/etc/mailertable"
}

sm_mc() {
    local name=$1 dir; dir=$(sm_dir "$name")
    local addr_var="SM_ADDR_$name" port_var="SM_PORT_$name" domains_var="SM_DOMAINS_$name"
    local addr=${!addr_var} port=${!port_var} domain
    cat <<MC
divert(-1)
# Private test instance $name (contrib/test/lib/sendmail.sh)
divert(0)dnl
define(\`MAIL_SETTINGS_DIR', \`$dir/etc/')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx.$name.test')dnl
define(\`QUEUE_DIR', \`$dir/queue')dnl
define(\`STATUS_FILE', \`$dir/etc/statistics')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$dir/etc/aliases')dnl
define(\`confSERVICE_SWITCH_FILE', \`$dir/etc/service.switch')dnl
define(\`confHOSTS_FILE', \`$dir/etc/hosts')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
define(\`confQUEUE_LA', \`1000')dnl
define(\`confREFUSE_LA', \`1000')dnl
define(\`confTO_QUEUEWARN', \`1h')dnl
define(\`confMIN_QUEUE_AGE', \`0')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`mailertable', \`text -k0 -v1 MAIL_SETTINGS_DIR\`'mailertable')dnl
RELAY_DOMAIN(\`127.0.0')dnl
MC
    for domain in ${!domains_var}; do echo "RELAY_DOMAIN(\`$domain')dnl"; done
    echo "DAEMON_OPTIONS(\`Family=inet, Addr=$addr, Port=$port, Name=MTA')dnl"
    cat "$dir/mc.listeners"
    echo "CLIENT_OPTIONS(\`Family=inet, Addr=$addr')dnl"
    cat "$dir/mc.milter"
    echo "MAILER(\`local')dnl"
    echo "MAILER(\`smtp')dnl"
    if [ -s "$dir/mc.mailers" ]; then echo "MAILER_DEFINITIONS"; cat "$dir/mc.mailers"; fi
}

sm_start() {
    local name=$1 dir; dir=$(sm_dir "$name")
    sm_mc "$name" >"$dir/sendmail.mc"
    "$SM_ROOT/usr/bin/m4" -D_CF_DIR_="$SM_ROOT/usr/share/sendmail/cf/" \
        "$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4" "$dir/sendmail.mc" >"$dir/etc/sendmail.cf" 2>"$dir/m4.log" \
        || { echo "sendmail $name: m4 failed:"; cat "$dir/m4.log"; return 1; }
    if [ -s "$dir/m4.log" ]; then echo "sendmail $name: m4 says:"; cat "$dir/m4.log"; return 1; fi
    # The syslog receiver writing the instance's log.
    rm -f "$dir/syslog.sock"
    python3 "$SM_LIB/syslog-sink.py" "$dir/syslog.sock" "$dir/maillog" 2>>"$dir/syslog-sink.err" &
    printf -v "SM_SYSLOG_PID_$name" '%s' "$!"
    for _ in $(seq 1 50); do [ -S "$dir/syslog.sock" ] && break; sleep 0.1; done
    [ -S "$dir/syslog.sock" ] || { echo "sendmail $name: syslog receiver did not start"; cat "$dir/syslog-sink.err"; return 1; }
    # sendmail -bD: the daemon stays in the foreground (its pid is ours to
    # stop); -q10s: queue runs every 10 seconds, like the Postfix instances.
    SM_ROOT=$SM_ROOT SM_LIBDIR=$SM_LIBDIR SM_DIR=$dir unshare --mount --uts bash -c '
        set -e
        hostname mx
        mount --make-rprivate / 2>/dev/null || true
        mount --bind "$SM_DIR/etc/hosts" /etc/hosts
        mount --bind "$SM_DIR/etc/nsswitch.conf" /etc/nsswitch.conf
        mount -t tmpfs tmpfs "$SM_DIR/ns"
        for n in null zero full random urandom tty; do
            touch "$SM_DIR/ns/$n"; mount --bind "/dev/$n" "$SM_DIR/ns/$n"
        done
        ln -s /proc/self/fd "$SM_DIR/ns/fd"
        touch "$SM_DIR/ns/log"; mount --bind "$SM_DIR/syslog.sock" "$SM_DIR/ns/log"
        mount --rbind "$SM_DIR/ns" /dev
        export LD_LIBRARY_PATH=$SM_LIBDIR
        exec "$SM_ROOT/usr/libexec/sendmail/sendmail" -C "$SM_DIR/etc/sendmail.cf" -bD -q10s
    ' >>"$dir/sendmail.out" 2>&1 &
    local pid=$!
    printf -v "SM_PID_$name" '%s' "$pid"
    SM_STARTED+=("$name")
    local addr_var="SM_ADDR_$name" port_var="SM_PORT_$name"
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/${!addr_var}/${!port_var}") 2>/dev/null; then return 0; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "sendmail $name does not listen on ${!addr_var}:${!port_var}:"; cat "$dir/sendmail.out"; tail -n 20 "$dir/maillog" 2>/dev/null
    return 1
}

sm_stop() {
    local name=$1 pid_var="SM_PID_$1" syslog_var="SM_SYSLOG_PID_$1"
    local pid=${!pid_var:-}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    [ -n "${!syslog_var:-}" ] && { kill "${!syslog_var}" 2>/dev/null || true; }
    printf -v "SM_PID_$name" '%s' ""
}

sm_queue() { sm_run "$1" -bp 2>&1 || true; }

sm_cleanup() {
    local name
    for name in "${SM_STARTED[@]}"; do sm_stop "$name"; done
}

# sm_version: the version of the unpacked sendmail-bin package.
sm_version() { dpkg-deb -f "$(ls "$SM_CACHE"/debs/sendmail-bin_*.deb | head -n 1)" Version 2>/dev/null; }
