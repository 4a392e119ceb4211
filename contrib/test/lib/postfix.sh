# Private Postfix instances for tests. Source this file.
#
# Each instance has its own config_directory, queue_directory and
# data_directory under $PF_BASE/NAME, listens for SMTP on 127.0.0.1:PORT only,
# runs nothing chrooted, logs to $PF_BASE/NAME/maillog, and delivers mail for
# its domains (the `virtual` delivery agent, as user nobody) into the Maildir
# $PF_BASE/NAME/mail/inbox/, or into $PF_BASE/NAME/mail/<address>/ for an
# address declared with pf_mailbox. Several instances run side by side (e.g.
# organizations A and B, plus a milter-less re-injection smtpd).
#
#   pf_init NAME PORT DOMAIN...      write main.cf/master.cf (not started)
#   pf_set NAME 'key = value'...     change main.cf (postconf -e)
#   pf_mailbox NAME ADDRESS          deliver ADDRESS into its own Maildir (mail/ADDRESS/)
#   pf_add_listener NAME PORT [-o key=value]...
#                                    another smtpd on 127.0.0.1:PORT, e.g. a
#                                    re-injection listener with -o smtpd_milters=
#   pf_add_unix_listener NAME SERVICE [-o key=value]...
#                                    an smtpd on the unix socket public/SERVICE
#                                    (pf_public_socket NAME SERVICE: its path)
#   pf_route NAME DOMAIN HOST:PORT   send mail for DOMAIN to smtp:[HOST]:PORT
#   pf_start NAME / pf_stop NAME     start / stop (pf_stop waits for the master to exit)
#   pf_dir NAME                      the instance directory
#   pf_maildir NAME [BOX]            a Maildir: inbox (default) or an ADDRESS
#   pf_wait_mail NAME BOX COUNT [SECONDS]
#                                    wait until COUNT messages are delivered there
#   pf_log NAME                      the instance's log file
#   pf_queue NAME                    the instance's queue listing (postqueue -p)
#   pf_cleanup                       stop every instance started here
#   pf_free_port                     a free loopback port
#
# Needs root (Postfix's master runs as root), the postfix package, and
# PF_BASE set to a directory the test owns.
#
# PF_ADDR (default 127.0.0.1), when set before pf_init, is the loopback
# address the instance listens on and sends from (inet_interfaces,
# smtp_bind_address); pf_add_listener and pf_start use the address of the
# instance. Several organizations then run side by side on 127.0.0.10,
# 127.0.0.20, ... and each sees the others as distinct clients.

PF_STARTED=()

pf_dir() { echo "$PF_BASE/$1"; }

pf_init() {
    local name=$1 port=$2; shift 2
    local domains="$*" dir; dir=$(pf_dir "$name")
    local addr=${PF_ADDR:-127.0.0.1} interfaces=127.0.0.1
    # Postfix accepts only configured interface addresses in inet_interfaces;
    # 127.0.0.N other than 1 is not one, but master.cf binds HOST:PORT
    # listeners as given and smtp_bind_address works for all of 127/8.
    [ "$addr" = 127.0.0.1 ] || interfaces=all
    mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail"
    chmod 755 "$PF_BASE" "$dir"
    chown postfix "$dir/data"
    chown nobody:nogroup "$dir/mail"
    local domain
    : >"$dir/etc/vmailbox"
    for domain in $domains; do printf '@%s\tinbox/\n' "$domain" >>"$dir/etc/vmailbox"; done
    cat >"$dir/etc/main.cf" <<CF
# Private test instance $name (contrib/test/lib/postfix.sh)
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.$name.test
mydomain = $name.test
myorigin = \$myhostname
mydestination =
inet_interfaces = $interfaces
smtp_bind_address = $addr
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = $dir/maillog
maillog_file_prefixes = $PF_BASE
virtual_mailbox_domains = $domains
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_minimum_uid = 1
transport_maps = regexp:$dir/etc/transport.regexp
milter_protocol = 6
milter_default_action = tempfail
smtpd_milters =
non_smtpd_milters =
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
CF
    : >"$dir/etc/transport.regexp"
    cat >"$dir/etc/master.cf" <<CF
# service type  private unpriv  chroot  wakeup  maxproc command
$addr:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
}

pf_set() {
    local name=$1; shift
    postconf -c "$(pf_dir "$name")/etc" -e "$@"
}

pf_mailbox() {
    local name=$1 address=$2 dir
    dir=$(pf_dir "$name")
    printf '%s\t%s/\n' "$address" "$address" >>"$dir/etc/vmailbox"
    if [ -r "$dir/queue/pid/master.pid" ]; then postfix -c "$dir/etc" reload >/dev/null 2>&1 || true; fi
}

pf_log() { echo "$(pf_dir "$1")/maillog"; }

pf_add_listener() {
    local name=$1 port=$2; shift 2
    local dir addr; dir=$(pf_dir "$name")
    addr=$(postconf -c "$dir/etc" -h smtp_bind_address)
    echo "$addr:$port inet n  -       n       -       -       smtpd" >>"$dir/etc/master.cf"
    while (($#)); do
        if [ "$1" = "-o" ]; then echo "  -o $2" >>"$dir/etc/master.cf"; shift 2; else shift; fi
    done
}

# pf_add_unix_listener NAME SERVICE [-o key=value]...: an smtpd on the unix
# socket public/SERVICE of the instance's queue directory (mode 0710
# postfix:postdrop: only the postfix user and the postdrop group reach it).
pf_add_unix_listener() {
    local name=$1 service=$2; shift 2
    local dir; dir=$(pf_dir "$name")
    echo "$service unix n  -       n       -       -       smtpd" >>"$dir/etc/master.cf"
    while (($#)); do
        if [ "$1" = "-o" ]; then echo "  -o $2" >>"$dir/etc/master.cf"; shift 2; else shift; fi
    done
}

# pf_public_socket NAME SERVICE: the path of that unix listener's socket.
pf_public_socket() { echo "$(pf_dir "$1")/queue/public/$2"; }

pf_route() {
    local name=$1 domain=$2 hostport=$3 dir
    dir=$(pf_dir "$name")
    local host=${hostport%:*} port=${hostport##*:}
    printf '/@%s$/\tsmtp:[%s]:%s\n' "${domain//./\\.}" "$host" "$port" >>"$dir/etc/transport.regexp"
}

pf_start() {
    local name=$1 dir; dir=$(pf_dir "$name")
    # Postfix reports start-up errors only to syslog or a terminal: on
    # failure run it again under script(1) to show the message.
    if ! postfix -c "$dir/etc" start >/dev/null 2>&1; then
        echo "postfix $name did not start:"
        script -qc "postfix -c $dir/etc start" /dev/null | tail -n 5
        return 1
    fi
    PF_STARTED+=("$name")
    local port host
    host=$(awk '$2 == "inet" { split($1, a, ":"); print a[1]; exit }' "$dir/etc/master.cf")
    port=$(awk '$2 == "inet" { split($1, a, ":"); print a[2]; exit }' "$dir/etc/master.cf")
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "postfix $name does not listen on $host:$port"
    return 1
}

pf_stop() {
    local name=$1 dir; dir=$(pf_dir "$name")
    local pidfile="$dir/queue/pid/master.pid" pid=""
    [ -r "$pidfile" ] && pid=$(tr -d ' ' <"$pidfile")
    postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
}

pf_maildir() { echo "$(pf_dir "$1")/mail/${2:-inbox}"; }

pf_wait_mail() {
    local name=$1 user=$2 count=$3 seconds=${4:-30} dir
    dir="$(pf_maildir "$name" "$user")/new"
    for _ in $(seq 1 $((seconds * 10))); do
        if [ -d "$dir" ] && [ "$(find "$dir" -type f | wc -l)" -ge "$count" ]; then return 0; fi
        sleep 0.1
    done
    echo "postfix $name: fewer than $count message(s) in $user after ${seconds}s; queue:"
    pf_queue "$name"
    echo "log:"; tail -n 20 "$(pf_log "$name")"
    return 1
}

pf_queue() { postqueue -c "$(pf_dir "$1")/etc" -p 2>&1 || true; }

pf_cleanup() {
    local name
    for name in "${PF_STARTED[@]}"; do pf_stop "$name"; done
}

# pf_free_port: a loopback TCP port nobody listens on (random, 20000-39999).
pf_free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    done
    return 1
}
