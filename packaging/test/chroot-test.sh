#!/bin/bash
# Runs INSIDE the clean Debian 12 root of contrib/test/t-packaging.sh, after
# "apt-get install ./fedmail-*.deb postfix swaks", in a private network
# namespace (its own loopback: the usual ports 25, 8443 and 10026 collide
# with nothing on the host). It follows README.Debian as an operator would:
# broker init, gateway keygen + enroll + approve, Postfix with the socket in
# its chroot, then mail through the milter. Prints "  ok"/"  FAIL" lines and
# exits 1 when anything failed.
#
# systemd cannot run in a chroot, so the daemons are started the way their
# units say: the ExecStart line parsed from the installed unit file, run as
# root for fedmail-milter (which drops to its UserID itself) and as the
# unit's User= for fedmail-broker, both with the unit's NoNewPrivileges and
# CapabilityBoundingSet applied by setpriv (and the broker's UMask);
# RuntimeDirectory is made by hand; ExecReload is run with $MAINPID filled
# in. The other hardening settings (ProtectSystem, SystemCallFilter, ...)
# need systemd and are only checked by systemd-analyze verify.
set -uo pipefail
export LC_ALL=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

passes=0; failures=0
pass() { passes=$((passes + 1)); echo "  ok   $*"; }
fail() { failures=$((failures + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@" >>/root/commands.log 2>&1; then pass "$what"; else fail "$what (see commands.log)"; fi; }
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 ('$2' != '$3')"; fi; }
wait_for() { # wait_for SECONDS COMMAND...
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

BROKER_PID= MILTER_PID= POSTFIX_STARTED=0
cleanup() {
    [ -n "$MILTER_PID" ] && kill "$MILTER_PID" 2>/dev/null
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null
    [ "$POSTFIX_STARTED" = 1 ] && postfix stop >/dev/null 2>&1
    local pid
    for pid in $MILTER_PID $BROKER_PID; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    true
}
trap cleanup EXIT

# unit_value UNIT KEY: the value of KEY= in the installed unit file.
unit_value() { sed -n "s/^$2=//p" "/lib/systemd/system/$1.service" | head -n1; }
# bounding_set UNIT: the unit's CapabilityBoundingSet= as setpriv's
# --bounding-set argument (empty: no capability at all).
bounding_set() {
    local set=-all cap
    for cap in $(unit_value "$1" CapabilityBoundingSet); do
        cap=${cap#CAP_}; set="$set,+${cap,,}"
    done
    echo "$set"
}
# unit_privileges UNIT: setpriv options for what the unit asks and a chroot
# can do: NoNewPrivileges and CapabilityBoundingSet.
unit_privileges() {
    [ "$(unit_value "$1" NoNewPrivileges)" = yes ] && printf -- '--no-new-privs\n'
    printf -- '--bounding-set=%s\n' "$(bounding_set "$1")"
}

uid_of() { getent passwd "$1" | cut -d: -f3; }
gid_of() { getent group "$1" | cut -d: -f3; }
# ids_of PID: "real effective saved fs" uid and gid from /proc/PID/status
uids_of() { awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$1/status"; }
gids_of() { awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$1/status"; }
caps_of() { awk '/^Cap(Prm|Eff|Bnd):/ {printf "%s%s ", $1, $2}' "/proc/$1/status"; }

echo "-- the installed programs need no Swift toolchain"
if command -v swift >/dev/null || [ -e /opt/swift ] || find / -xdev -name 'libswiftCore*' 2>/dev/null | grep >/dev/null .; then
    fail "this root has no Swift toolchain or runtime"
else
    pass "this root has no Swift toolchain or runtime"
fi
for program in /usr/sbin/fedmail-milter /usr/sbin/fedmail-broker /usr/bin/fedmailctl; do
    if ldd "$program" 2>&1 | grep -Eq 'not found|libswift|libFoundation|libdispatch'; then
        fail "$program links only system libraries"; ldd "$program"
    else
        pass "$program links only system libraries"
    fi
done
same "fedmail-milter -V runs" "$(fedmail-milter -V 2>&1)" "fedmail-milter 0.1.0"
check "fedmailctl --help runs" fedmailctl --help
check "fedmail-broker --help runs" fedmail-broker --help

echo "-- the broker (README.Debian section 3)"
check "fedmail-broker -n accepts the shipped broker configuration" fedmail-broker -n
check "fedmail-broker init as the fedmail-broker user" runuser -u fedmail-broker -- fedmail-broker init
same "CA key is 0600 fedmail-broker" "$(stat -c '%a %U' /var/lib/fedmail-broker/ca.key 2>&1)" "600 fedmail-broker"
BROKER_EXEC=$(unit_value fedmail-broker ExecStart)
BROKER_USER=$(unit_value fedmail-broker User)
BROKER_GROUP=$(unit_value fedmail-broker Group)
same "fedmail-broker.service ExecStart" "$BROKER_EXEC" "/usr/sbin/fedmail-broker -c /etc/fedmail/fedmail-broker.conf serve"
# shellcheck disable=SC2086 # the ExecStart line is split into words as systemd does (no quoting in it)
mapfile -t broker_privileges < <(unit_privileges fedmail-broker)
(umask "$(unit_value fedmail-broker UMask)"
 exec setpriv --reuid="$BROKER_USER" --regid="$BROKER_GROUP" --init-groups "${broker_privileges[@]}" -- $BROKER_EXEC \
    >/var/log/fedmail-broker.log 2>&1) &
BROKER_PID=$!
if wait_for 30 port_open 127.0.0.1 8443; then pass "the broker listens on 127.0.0.1:8443"; else fail "the broker listens on 127.0.0.1:8443"; cat /var/log/fedmail-broker.log; fi
bu=$(uid_of "$BROKER_USER")
same "the broker runs as $BROKER_USER (Uid real/effective/saved/fs)" "$(uids_of $BROKER_PID)" "$bu $bu $bu $bu"
same "the broker has no capabilities" "$(caps_of $BROKER_PID)" "CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 "

echo "-- enrolling the gateway (README.Debian section 4)"
install -m 0644 /var/lib/fedmail-broker/ca.crt /etc/fedmail/broker-ca.crt
check "fedmailctl keygen as fedmail" runuser -u fedmail -- fedmailctl keygen --type p256 --out /etc/fedmail/keys/org.key
same "org.key is 0600 fedmail" "$(stat -c '%a %U' /etc/fedmail/keys/org.key 2>&1)" "600 fedmail"
BROKER_URL=https://127.0.0.1:8443
enroll() { # enroll USER KEY ORG DOMAIN CERT: submit, approve on the broker, fetch
    local user=$1 key=$2 org=$3 domain=$4 cert=$5 out id
    out=$(runuser -u "$user" -- fedmailctl enroll --broker $BROKER_URL --ca /etc/fedmail/broker-ca.crt \
        --key "$key" --org "$org" --domain "$domain" 2>&1)
    echo "$out" >>/root/commands.log
    id=$(sed -n 's/^enrollment \([^ ]*\) submitted.*/\1/p' <<<"$out")
    [ -n "$id" ] || return 1
    runuser -u fedmail-broker -- fedmail-broker org approve --skip-dns-validation "$id" >>/root/commands.log 2>&1 || return 1
    runuser -u "$user" -- fedmailctl enroll --broker $BROKER_URL --ca /etc/fedmail/broker-ca.crt \
        --key "$key" --org "$org" --id "$id" --wait --timeout 20 --cert "$cert" >>/root/commands.log 2>&1
}
# README.Debian's one-shot form: enroll --wait while the broker's operator
# approves the pending enrollment from "org list".
enroll_waiting() {
    runuser -u fedmail -- fedmailctl enroll --broker $BROKER_URL --ca /etc/fedmail/broker-ca.crt \
        --key /etc/fedmail/keys/org.key --org example-org --domain example.org \
        --wait --timeout 60 --cert /etc/fedmail/keys/org.crt >>/root/commands.log 2>&1 &
    local waiter=$! id= end=$((SECONDS + 30))
    while [ -z "$id" ] && [ $SECONDS -lt $end ]; do
        id=$(runuser -u fedmail-broker -- fedmail-broker org list 2>/dev/null | awk '($1 == "pending" || $1 == "pending-dns") && $3 == "example-org" {print $2}')
        [ -n "$id" ] || sleep 0.3
    done
    [ -n "$id" ] && runuser -u fedmail-broker -- fedmail-broker org approve --skip-dns-validation "$id" >>/root/commands.log 2>&1
    wait "$waiter"
}
check "fedmailctl enroll --wait + fedmail-broker org list/approve: example-org" enroll_waiting
same "org.crt is owned by fedmail" "$(stat -c '%U' /etc/fedmail/keys/org.crt 2>&1)" "fedmail"
# A partner organization on the same broker, to seal mail for.
useradd --system --no-create-home --shell /usr/sbin/nologin partnerop
install -d -o partnerop -m 0700 /root/partner; chmod 711 /root
partner_enroll() {
    runuser -u partnerop -- fedmailctl keygen --type rsa3072 --out /root/partner/org.key >>/root/commands.log 2>&1 &&
        enroll partnerop /root/partner/org.key partner-org partner.example /root/partner/org.crt
}
check "partner organization (RSA 3072) enrolled (submit, approve, enroll --id)" partner_enroll
lookup_partner() {
    runuser -u fedmail -- fedmailctl lookup --broker $BROKER_URL --ca /etc/fedmail/broker-ca.crt \
        --key /etc/fedmail/keys/org.key --cert /etc/fedmail/keys/org.crt partner.example >/root/lookup.json 2>>/root/commands.log &&
        grep -q '"status" *: *"ok"' /root/lookup.json
}
check "fedmailctl lookup partner.example: ok (README.Debian section 4 step 5)" lookup_partner

echo "-- fedmail-milter configured per README.Debian"
conf=/etc/fedmail/fedmail-milter.conf
sed -i -e 's|^Socket .*|Socket              local:/var/spool/postfix/fedmail/milter.sock|' \
       -e 's|^Domains .*|Domains             example.org|' \
       -e "s|^BrokerURL .*|BrokerURL           $BROKER_URL|" "$conf"
echo "partner.example          require" >>/etc/fedmail/federation-allowlist
install -d -o fedmail -g fedmail -m 0750 /var/spool/postfix/fedmail
adduser --quiet postfix fedmail
check "fedmail-milter -n accepts the configuration" fedmail-milter -n
same "fedmail-milter -n names the file" "$(fedmail-milter -n 2>&1)" "/etc/fedmail/fedmail-milter.conf: configuration OK"

echo "-- Postfix configured per README.Debian"
postconf -e 'myhostname = mx.example.org' 'mydestination = example.org, localhost' \
    'inet_interfaces = loopback-only' 'inet_protocols = ipv4' 'home_mailbox = Maildir/' \
    'maillog_file = /var/log/postfix.log' \
    'transport_maps = texthash:/etc/postfix/transport' \
    'smtpd_milters = unix:/fedmail/milter.sock' 'non_smtpd_milters = $smtpd_milters' \
    'milter_default_action = tempfail' \
    'milter_connect_macros = j {daemon_name} {daemon_addr} v _ {client_addr}' \
    'milter_mail_macros = i {auth_type} {auth_authen} {auth_ssf} {auth_author} {mail_addr} {mail_host} {mail_mailer}' \
    'milter_command_timeout = 60s' 'milter_content_timeout = 300s'
# Test-only routing: partner.example is delivered to the local user bob, so
# the sealed message can be looked at after it left the milter.
echo "partner.example local:" >/etc/postfix/transport
cat >>/etc/postfix/master.cf <<'MASTER'
fedmail-reinject unix n       -       y       -       -       smtpd
  -o syslog_name=postfix/fedmail-reinject
  -o smtpd_milters=
  -o non_smtpd_milters=
  -o receive_override_options=no_address_mappings
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
MASTER
# README.Debian: the package puts fedmail in postdrop when Postfix is there;
# apt may have configured fedmail-milter first.
getent group postdrop | grep -qw fedmail || adduser --quiet fedmail postdrop
same "fedmail is in group postdrop (re-injection socket)" "$(id -nG fedmail | tr ' ' '\n' | grep -cx postdrop)" "1"
useradd --create-home --shell /usr/sbin/nologin alice
useradd --create-home --shell /usr/sbin/nologin bob
same "Debian's Postfix runs smtpd chrooted" "$(postconf -M smtp/inet | awk '{print $5}')" "y"
check "postfix check" postfix check

echo "-- fedmail-milter started as its unit says"
MILTER_EXEC=$(unit_value fedmail-milter ExecStart)
same "fedmail-milter.service ExecStart" "$MILTER_EXEC" "/usr/sbin/fedmail-milter -f -c /etc/fedmail/fedmail-milter.conf"
install -d -m "$(unit_value fedmail-milter RuntimeDirectoryMode)" "/run/$(unit_value fedmail-milter RuntimeDirectory)"
# As root, but with the unit's NoNewPrivileges and CapabilityBoundingSet:
# start-up (socket, pid file, key, chown, switching user) must need no more.
mapfile -t milter_privileges < <(unit_privileges fedmail-milter)
same "fedmail-milter.service capabilities" "${milter_privileges[*]}" \
    "--no-new-privs --bounding-set=-all,+chown,+dac_override,+fowner,+setuid,+setgid"
# shellcheck disable=SC2086
setpriv "${milter_privileges[@]}" -- $MILTER_EXEC 2>/var/log/fedmail-milter.log &
MILTER_PID=$!
socket=/var/spool/postfix/fedmail/milter.sock
if wait_for 20 test -S $socket; then pass "the milter socket exists"; else fail "the milter socket exists"; cat /var/log/fedmail-milter.log; fi
wait_for 10 grep -q "listening on" /var/log/fedmail-milter.log
fm_uid=$(uid_of fedmail); fm_gid=$(gid_of fedmail)
same "the milter runs as fedmail (Uid real/effective/saved/fs)" "$(uids_of $MILTER_PID)" "$fm_uid $fm_uid $fm_uid $fm_uid"
same "the milter runs with group fedmail" "$(gids_of $MILTER_PID)" "$fm_gid $fm_gid $fm_gid $fm_gid"
if [ "$(awk '/^CapPrm:/ {print $2}' /proc/$MILTER_PID/status)" = 0000000000000000 ] \
    && [ "$(awk '/^CapEff:/ {print $2}' /proc/$MILTER_PID/status)" = 0000000000000000 ]; then
    pass "the milter kept no capabilities after switching user"
else
    fail "the milter kept no capabilities after switching user ($(caps_of $MILTER_PID))"
fi
same "the socket is fedmail:fedmail 0770" "$(stat -c '%U:%G %a' $socket)" "fedmail:fedmail 770"
same "the pid file names the daemon" "$(cat /run/fedmail/fedmail-milter.pid 2>&1)" "$MILTER_PID"

echo "-- mail through Postfix and the milter"
check "postfix start" postfix start
POSTFIX_STARTED=1
wait_for 20 port_open 127.0.0.1 25
check "swaks: alice@example.org -> alice@example.org accepted" \
    swaks --server 127.0.0.1:25 --helo client.example.org --from alice@example.org --to alice@example.org \
        --header "Subject: packaging test local" --body "local body 7f3a"
# The sealed one is submitted with sendmail(1): the non_smtpd_milters path.
printf 'From: alice@example.org\nTo: bob@partner.example\nSubject: packaging test sealed\nMessage-ID: <pkg-sealed@example.org>\n\nsealed body 9c2e\n' \
    | sendmail -f alice@example.org bob@partner.example
delivered() { find "/home/$1/Maildir/new" -type f 2>/dev/null | grep >/dev/null .; }
if wait_for 60 delivered alice; then pass "alice's message was delivered"; else fail "alice's message was delivered"; fi
if wait_for 60 delivered bob; then pass "bob's message was delivered"; else fail "bob's message was delivered"; fi
sleep 0.5
alice_msg=$(find /home/alice/Maildir/new -type f | head -n1)
bob_msg=$(find /home/bob/Maildir/new -type f | head -n1)
if [ -n "$alice_msg" ] && grep -q "local body 7f3a" "$alice_msg" && grep -q "^Subject: packaging test local" "$alice_msg"; then
    pass "the local message arrived unchanged"
else
    fail "the local message arrived unchanged"
fi
qid=$(sed -n 's/.*postfix\/cleanup\[[0-9]*\]: \([0-9A-F]*\): message-id=.*/\1/p' /var/log/postfix.log | head -n1)
if [ -n "$qid" ] && grep -q "$qid: .*decision=untouched" /var/log/fedmail-milter.log; then
    pass "the milter logged the message with Postfix's queue id ($qid)"
else
    fail "the milter logged the message with Postfix's queue id ('$qid')"
fi
if [ -n "$bob_msg" ] && grep -q "^FedMail-Token: v=1; d=partner.example" "$bob_msg" \
    && grep -q "smime-type=authEnveloped-data" "$bob_msg" && grep -q "^Subject: \[sealed\]" "$bob_msg" \
    && ! grep -q "sealed body 9c2e" "$bob_msg"; then
    pass "mail to the require partner left sealed (FedMail-Token, authEnveloped-data, no plaintext)"
else
    fail "mail to the require partner left sealed"
fi
if grep -q "decision=sealed" /var/log/fedmail-milter.log; then pass "the milter logged decision=sealed"; else fail "the milter logged decision=sealed"; fi
if [ -n "$bob_msg" ] && runuser -u partnerop -- fedmailctl open --key /root/partner/org.key --cert /root/partner/org.crt \
        --ca /etc/fedmail/broker-ca.crt <"$bob_msg" >/root/opened.eml 2>>/root/commands.log \
    && grep -q "sealed body 9c2e" /root/opened.eml && grep -q "^Subject: packaging test sealed" /root/opened.eml; then
    pass "the partner's key opens it to the original (fedmailctl open)"
else
    fail "the partner's key opens it to the original (fedmailctl open)"
fi

# A mixed message (MixedRecipients split, the shipped default): the sealed
# copy for bob@partner.example is re-injected through the unix socket
# public/fedmail-reinject, alice@example.org gets the plaintext original.
check "swaks: alice@example.org -> alice@example.org + bob@partner.example accepted (split)" \
    swaks --server 127.0.0.1:25 --helo client.example.org --from alice@example.org \
        --to alice@example.org,bob@partner.example --header "Subject: packaging test split" --body "split body 4d1b"
split_arrived() { grep -l "Subject: packaging test split" /home/alice/Maildir/new/* >/dev/null 2>&1 \
    && [ "$(find /home/bob/Maildir/new -type f | wc -l)" -ge 2 ]; }
if wait_for 60 split_arrived; then pass "split: both copies were delivered"; else fail "split: both copies were delivered"; fi
if grep -q "postfix/fedmail-reinject/smtpd.*client=localhost" /var/log/postfix.log; then
    pass "split: the sealed copy came in through the re-injection socket"
else
    fail "split: the sealed copy came in through the re-injection socket"
fi
split_bob=$(grep -L "sealed body 9c2e" $(find /home/bob/Maildir/new -type f) 2>/dev/null | head -n1)
if [ -n "$split_bob" ] && grep -q "smime-type=authEnveloped-data" "$split_bob" && ! grep -q "split body 4d1b" "$split_bob"; then
    pass "split: bob's copy left sealed"
else
    fail "split: bob's copy left sealed"
fi
if ! runuser -u alice -- swaks --socket /var/spool/postfix/public/fedmail-reinject --from x@else.example \
        --to alice@example.org --body "should not pass" >/root/reinject-alice.log 2>&1 \
    && grep -q "Permission denied" /root/reinject-alice.log; then
    pass "a local user cannot reach the re-injection socket"
else
    fail "a local user cannot reach the re-injection socket"
fi

echo "-- reload and stop as the unit says"
reload=$(unit_value fedmail-milter ExecReload)
same "fedmail-milter.service ExecReload" "$reload" '+/bin/kill -USR1 $MAINPID'
reload=${reload#+}   # "+": with full privileges
${reload//\$MAINPID/$MILTER_PID}
if wait_for 10 grep -q "configuration reloaded" /var/log/fedmail-milter.log && kill -0 "$MILTER_PID"; then
    pass "ExecReload (SIGUSR1) reloads the configuration, the daemon keeps running"
else
    fail "ExecReload (SIGUSR1) reloads the configuration"
fi
kill -TERM "$MILTER_PID"
wait "$MILTER_PID"; status=$?
MILTER_PID=
same "SIGTERM stops the milter with status 0" "$status" "0"
if [ ! -e $socket ]; then pass "the socket is removed at stop"; else fail "the socket is removed at stop"; fi

echo "-- logs"
sed 's/^/    milter: /' /var/log/fedmail-milter.log | tail -n 8
grep -E "fedmail|milter" /var/log/postfix.log | sed 's/^/    postfix: /' | tail -n 4

echo "chroot-test: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
