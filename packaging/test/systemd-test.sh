#!/bin/bash
# Runs INSIDE the root of contrib/test/t-packaging.sh once it has been booted
# with systemd-nspawn (systemd as PID 1, private network), after
# chroot-test.sh has set up the broker, the enrolled gateway and Postfix.
# Here the real units run with all their hardening: the daemons were started
# at boot by systemd (their conditions are now met), mail is sealed through
# them, "systemctl reload" and "stop" act on them, with the milter
# stopped Postfix must tempfail, and a milter killed with SIGKILL is
# restarted by systemd and mail flows again. Prints "  ok"/"  FAIL" lines.
set -uo pipefail
export LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin

passes=0; failures=0
pass() { passes=$((passes + 1)); echo "  ok   $*"; }
fail() { failures=$((failures + 1)); echo "  FAIL $*"; }
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 ('$2' != '$3')"; fi; }
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.3; done; }
status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
uid_of() { getent passwd "$1" | cut -d: -f3; }

for unit in fedmail-broker fedmail-milter postfix@-; do
    if wait_for 30 systemctl is-active --quiet "$unit"; then pass "$unit.service active after boot"
    else fail "$unit.service active after boot"; systemctl status "$unit" --no-pager -l | sed 's/^/    /' | head -n 20; fi
done
for unit in fedmail-milter:fedmail fedmail-broker:fedmail-broker; do
    name=${unit%%:*} user=${unit#*:}
    pid=$(systemctl show -p MainPID --value "$name")
    if [ -n "$pid" ] && [ "$pid" != 0 ]; then
        same "$name runs as $user, NoNewPrivs, seccomp filter, no capabilities" \
            "$(status_field "$pid" Uid) $(status_field "$pid" NoNewPrivs) $(status_field "$pid" Seccomp) $(status_field "$pid" CapEff)" \
            "$(uid_of "$user") 1 2 0000000000000000"
    else
        fail "$name has a main process"
    fi
done

before=$(find /home/bob/Maildir/new -type f | wc -l)
printf 'From: alice@example.org\nTo: bob@partner.example\nSubject: under systemd\nMessage-ID: <pkg-systemd@example.org>\n\nsystemd body 41d8\n' \
    | sendmail -f alice@example.org bob@partner.example
more() { [ "$(find /home/bob/Maildir/new -type f | wc -l)" -gt "$before" ]; }
if wait_for 60 more; then
    msg=$(ls -t /home/bob/Maildir/new/* | head -n1)
    if grep -q "^FedMail-Token: v=1; d=partner.example" "$msg" && ! grep -q "systemd body 41d8" "$msg"; then
        pass "mail to the require partner sealed by the hardened service"
    else
        fail "mail to the require partner sealed by the hardened service"
    fi
else
    fail "mail to the require partner delivered"; tail -n 5 /var/log/postfix.log
fi
if journalctl -u fedmail-milter --no-pager | grep >/dev/null "decision=sealed"; then
    pass "the journal has the milter's decision=sealed line"
else
    fail "the journal has the milter's decision=sealed line"
fi
if ls /var/cache/fedmail/*.json >/dev/null 2>&1; then
    pass "the broker answer was cached in /var/cache/fedmail (ReadWritePaths under ProtectSystem=strict)"
else
    fail "the broker answer was cached in /var/cache/fedmail"
fi

if systemctl reload fedmail-milter && wait_for 10 sh -c 'journalctl -u fedmail-milter --no-pager | grep >/dev/null "configuration reloaded"'; then
    pass "systemctl reload fedmail-milter (SIGUSR1) reloads"
else
    fail "systemctl reload fedmail-milter"; journalctl -u fedmail-milter --no-pager | tail -n 5 | sed 's/^/    /'
fi
# Syslog yes under systemd: each line reaches the journal once (through
# syslog), not a second time through standard error.
sleep 1
same "the journal has each milter line once (syslog, not stderr too)" \
    "$(journalctl -u fedmail-milter --no-pager -o cat | grep -c "configuration reloaded")" "1"
systemctl stop fedmail-milter
same "systemctl stop fedmail-milter: inactive, not failed" "$(systemctl is-active fedmail-milter)" "inactive"
reply=$(swaks --server 127.0.0.1:25 --from alice@example.org --to alice@example.org --quit-after RCPT 2>&1)
if grep -q '^<\*\* *451 4.7.1' <<<"$reply"; then
    pass "with the milter stopped Postfix tempfails (milter_default_action = tempfail)"
else
    fail "with the milter stopped Postfix tempfails"; echo "$reply" | tail -n 4 | sed 's/^/    /'
fi
systemctl start fedmail-milter
if systemctl is-active --quiet fedmail-milter; then pass "systemctl start fedmail-milter"; else fail "systemctl start fedmail-milter"; fi

# A crash: SIGKILL. The unit (Restart=on-failure, RestartSec=2s,
# StartLimitIntervalSec=0) brings the milter back by itself, however often
# it happens, and the mail submitted while it was down is delivered sealed
# without anyone touching anything.
main_pid() { systemctl show -p MainPID --value fedmail-milter; }
restarted_from() { local p; p=$(main_pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$1" ] && systemctl is-active --quiet fedmail-milter && [ -S /var/spool/postfix/fedmail/milter.sock ]; }
restarts0=$(systemctl show -p NRestarts --value fedmail-milter)
killed=0 back=0
for round in 1 2 3 4 5 6; do
    pid=$(main_pid)
    [ -n "$pid" ] && [ "$pid" != 0 ] || break
    kill -KILL "$pid"; killed=$((killed + 1))
    if [ "$round" = 1 ]; then
        # Submitted while the milter is dead: Postfix holds it (tempfail), nothing is lost.
        before=$(find /home/bob/Maildir/new -type f | wc -l)
        printf 'From: alice@example.org\nTo: bob@partner.example\nSubject: after a crash\nMessage-ID: <pkg-sigkill@example.org>\n\nsigkill body 7e21\n' \
            | sendmail -f alice@example.org bob@partner.example
    fi
    if wait_for 20 restarted_from "$pid"; then back=$((back + 1)); fi
done
same "SIGKILLed $killed times in a row: systemd restarted the milter each time (no start limit)" "$back" "$killed"
same "systemd counted the restarts (NRestarts)" "$(( $(systemctl show -p NRestarts --value fedmail-milter) - restarts0 ))" "$killed"
if wait_for 90 more; then
    msg=$(ls -t /home/bob/Maildir/new/* | head -n1)
    if grep -q "^FedMail-Token: v=1; d=partner.example" "$msg" && ! grep -q "sigkill body 7e21" "$msg"; then
        pass "mail submitted while the milter was dead was delivered sealed once it was back, without intervention"
    else
        fail "mail submitted while the milter was dead was delivered sealed"
    fi
else
    fail "mail submitted while the milter was dead was delivered"; tail -n 8 /var/log/postfix.log | sed 's/^/    /'
fi
if systemctl restart fedmail-broker && wait_for 15 systemctl is-active --quiet fedmail-broker; then
    pass "systemctl restart fedmail-broker"
else
    fail "systemctl restart fedmail-broker"
fi
journalctl -u fedmail-milter -u fedmail-broker --no-pager -o cat | grep -v "^fedmail-milter\[" | tail -n 6 | sed 's/^/    journal: /'

# The renewal timer, and its service with all its hardening (User=fedmail,
# ProtectSystem=strict, ReadWritePaths=/etc/fedmail/keys).
if systemctl is-active --quiet fedmail-renew.timer; then pass "fedmail-renew.timer active after boot"; else fail "fedmail-renew.timer active after boot"; fi
crt=/etc/fedmail/keys/org.crt
old=$(sha256sum <"$crt")
systemctl start fedmail-renew.service
same "fedmail-renew.service with a fresh certificate: success, nothing renewed" \
    "$(systemctl show -p Result --value fedmail-renew.service) $(sha256sum <"$crt" | cut -c1-16)" "success ${old:0:16}"
# Renewal due (--days 100 > the 30-day lifetime): renewed under the unit's
# sandbox, the old certificate kept, the milter asked to reload.
mkdir -p /run/systemd/system/fedmail-renew.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/bin/fedmailctl renew --config /etc/fedmail/fedmail-milter.conf --if-needed --days 100 --reload-pid-file /run/fedmail/fedmail-milter.pid\n' \
    >/run/systemd/system/fedmail-renew.service.d/due.conf
systemctl daemon-reload
reloads=$(journalctl -u fedmail-milter --no-pager -o cat | grep -c "configuration reloaded")
systemctl start fedmail-renew.service
if [ "$(systemctl show -p Result --value fedmail-renew.service)" = success ] && [ "$(sha256sum <"$crt")" != "$old" ] \
    && [ "$(sha256sum <"$crt.previous")" = "$old" ] && [ "$(stat -c '%U %a' "$crt")" = "fedmail 644" ]; then
    pass "fedmail-renew.service renews under its sandbox as fedmail (old kept as org.crt.previous)"
else
    fail "fedmail-renew.service renews under its sandbox"; journalctl -u fedmail-renew --no-pager -o cat | tail -n 5 | sed 's/^/    /'
fi
if wait_for 10 sh -c "[ \$(journalctl -u fedmail-milter --no-pager -o cat | grep -c 'configuration reloaded') -gt $reloads ]"; then
    pass "the renewal made the running milter reload (SIGUSR1 from the fedmail user)"
else
    fail "the renewal made the running milter reload"; journalctl -u fedmail-renew --no-pager -o cat | tail -n 5 | sed 's/^/    /'
fi
rm -rf /run/systemd/system/fedmail-renew.service.d; systemctl daemon-reload

echo "systemd-test: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
