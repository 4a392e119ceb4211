#!/usr/bin/env bash
# Integration suite for the Debian packages: builds fedmail-milter,
# fedmail-broker and fedmail-tools with dpkg-buildpackage
# (packaging/build-debs.sh), runs lintian on them (no errors allowed), then
# installs them with "apt-get install ./*.deb" into a clean Debian 12 root
# made by debootstrap — no Swift toolchain in it — and, inside it
# (packaging/test/chroot-test.sh, in a private network namespace), sets up
# a broker and a gateway the way README.Debian says and passes mail through
# Postfix and the milter; then boots the root with systemd-nspawn and checks
# the real units (packaging/test/systemd-test.sh). Finally reinstalls,
# removes and purges the packages and checks what stays and what goes.
#
# Environment:
#   FEDMAIL_DEBS=DIR           use the .debs in DIR instead of building
#   FEDMAIL_DEBIAN_MIRROR=URL  Debian mirror (default: the host's apt source)
#   FEDMAIL_ROOT_CACHE=DIR     where the debootstrap result and downloaded
#                              packages are cached (default /var/cache/fedmail-test)
#   FEDMAIL_REQUIRE_SYSTEMD=1  fail (not skip) when the root cannot be booted
#                              with systemd-nspawn
#   KEEP_WORK=1                keep the work directory (the root is removed)
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
[ "$(id -u)" = 0 ] || { echo "t-packaging: needs root (debootstrap, chroot)"; exit 1; }
for tool in dpkg-buildpackage lintian debootstrap unshare chroot ip; do
    command -v "$tool" >/dev/null || { echo "t-packaging: $tool missing (contrib/scripts/install-deps.sh)"; exit 1; }
done

WORK=$(mktemp -d /tmp/fedmail-t-packaging.XXXXXX)
ROOT=$WORK/root
CACHE=${FEDMAIL_ROOT_CACHE:-/var/cache/fedmail-test}
mkdir -p "$CACHE/apt-archives/partial"

# pass / fail: the counters and lines of every suite
. contrib/test/lib/scenarios.sh
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 ('$2' != '$3')"; fi; }
timings=()
t0=$SECONDS
lap() { timings+=("$1 $((SECONDS - t0))s"); t0=$SECONDS; }

# Mounts inside the root, unmounted on every exit path; the root is only
# deleted once nothing is mounted below it any more.
mounts_below() { awk -v r="$ROOT/" 'index($2 "/", r) == 1 {print $2}' /proc/mounts | sort -r; }
kill_root_processes() {
    local link pid
    for link in /proc/[0-9]*/root; do
        pid=${link#/proc/}; pid=${pid%/root}
        [ "$(readlink "$link" 2>/dev/null)" = "$ROOT" ] && kill -KILL "$pid" 2>/dev/null
    done
    true
}
NSPAWN_PID= LEADER=
container_init() {
    local p
    for p in $(pgrep -P "$NSPAWN_PID"); do
        awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$p/status" 2>/dev/null && { echo "$p"; return 0; }
    done
    return 1
}
cleanup() {
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        LEADER=$(container_init || echo "$LEADER")
        [ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
        sleep 1
        kill -KILL "$NSPAWN_PID" 2>/dev/null
        sleep 1
    fi
    kill_root_processes
    local m
    for m in $(mounts_below); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    if [ -n "$(mounts_below)" ]; then
        echo "t-packaging: still mounted below $ROOT, not removing it:"; mounts_below
    else
        rm -rf "$ROOT"
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "t-packaging: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive HOME=/root "$@"; }

echo "-- build the packages"
if [ -n "${FEDMAIL_DEBS:-}" ]; then
    DEBS=$FEDMAIL_DEBS
    echo "  using the packages in $DEBS"
else
    DEBS=$WORK/debs
    if bash packaging/build-debs.sh "$DEBS" >"$WORK/build.log" 2>&1; then
        pass "dpkg-buildpackage -us -uc -b built the packages"
    else
        fail "dpkg-buildpackage -us -uc -b built the packages"; tail -n 40 "$WORK/build.log"
        echo "t-packaging: $passes passed, $failures failed"; exit 1
    fi
fi
lap "package-build"
debs=()
for p in fedmail-milter fedmail-broker fedmail-tools; do
    f=$(ls "$DEBS"/${p}_*.deb 2>/dev/null | head -n1)
    if [ -n "$f" ]; then debs+=("$f"); pass "$p: $(basename "$f") ($(du -h "$f" | cut -f1))"; else fail "$p: no package"; fi
done
((${#debs[@]} == 3)) || { echo "t-packaging: $passes passed, $failures failed"; exit 1; }
contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
has() { contents "$1" | grep >/dev/null -x "$2"; }
for entry in "fedmail-milter /usr/sbin/fedmail-milter" "fedmail-milter /lib/systemd/system/fedmail-milter.service" \
             "fedmail-milter /etc/fedmail/fedmail-milter.conf" "fedmail-milter /etc/fedmail/federation-allowlist" \
             "fedmail-milter /usr/share/man/man8/fedmail-milter.8.gz" "fedmail-milter /usr/share/man/man5/fedmail-milter.conf.5.gz" \
             "fedmail-milter /usr/share/doc/fedmail-milter/README.Debian.gz" \
             "fedmail-broker /usr/sbin/fedmail-broker" "fedmail-broker /lib/systemd/system/fedmail-broker.service" \
             "fedmail-broker /etc/fedmail/fedmail-broker.conf" "fedmail-broker /usr/share/man/man8/fedmail-broker.8.gz" \
             "fedmail-tools /usr/bin/fedmailctl" "fedmail-tools /usr/share/man/man1/fedmailctl.1.gz"; do
    set -- $entry
    f=$(printf '%s\n' "${debs[@]}" | grep "/${1}_")
    if has "$f" "$2"; then pass "$1 ships $2"; else fail "$1 ships $2"; fi
done
conffiles=$(for f in "${debs[@]}"; do dpkg-deb -I "$f" conffiles 2>/dev/null; done | sort | tr '\n' ' ')
same "conffiles" "$conffiles" "/etc/fedmail/federation-allowlist /etc/fedmail/fedmail-broker.conf /etc/fedmail/fedmail-milter.conf "

echo "-- lintian"
lintian --tag-display-limit 0 "${debs[@]}" >"$WORK/lintian.log" 2>&1
errors=$(grep -c '^E:' "$WORK/lintian.log")
warnings=$(grep -c '^W:' "$WORK/lintian.log")
infos=$(grep -c '^[IPX]:' "$WORK/lintian.log")
sed 's/^/    /' "$WORK/lintian.log"
same "lintian: no errors ($warnings warnings, $infos info/pedantic/experimental)" "$errors" "0"
lap "lintian"

echo "-- a clean Debian 12 root (debootstrap, no Swift)"
MIRROR=${FEDMAIL_DEBIAN_MIRROR:-}
if [ -z "$MIRROR" ]; then
    MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
fi
if [ -z "$MIRROR" ]; then
    MIRROR=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}
tarball=$CACHE/bookworm-minbase-root.tar
if [ -s "$tarball" ]; then
    mkdir -p "$ROOT" && tar -C "$ROOT" -xpf "$tarball"
    echo "  root unpacked from the cached debootstrap result $tarball"
else
    if debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
        tar -C "$ROOT" -cpf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        echo "  debootstrap --variant=minbase bookworm from $MIRROR (cached as $tarball)"
    else
        fail "debootstrap bookworm"; tail -n 20 "$WORK/debootstrap.log"
        echo "t-packaging: $passes passed, $failures failed"; exit 1
    fi
fi
same "the root is Debian 12" "$(cut -d. -f1 "$ROOT/etc/debian_version")" "12"
if [ ! -e "$ROOT/opt/swift" ] && ! find "$ROOT" -xdev -name 'libswiftCore*' | grep >/dev/null .; then
    pass "the root has no Swift toolchain"
else
    fail "the root has no Swift toolchain"
fi
lap "debootstrap"

mount_root() {
    mount -t proc proc "$ROOT/proc"
    mount -t sysfs sysfs "$ROOT/sys"
    # A private /dev (never the host's bind-mounted: whatever a package
    # script does to /dev/null in the root must not touch the host's).
    mount -t tmpfs -o mode=755,nosuid,size=1m fedmail-dev "$ROOT/dev"
    local node
    for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r n major minor <<<"$node"
        mknod -m 666 "$ROOT/dev/$n" c "$major" "$minor"
    done
    mkdir -p "$ROOT/dev/pts" "$ROOT/dev/shm"
    ln -s /proc/self/fd "$ROOT/dev/fd"
    ln -s /proc/self/fd/0 "$ROOT/dev/stdin"; ln -s /proc/self/fd/1 "$ROOT/dev/stdout"; ln -s /proc/self/fd/2 "$ROOT/dev/stderr"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts" 2>/dev/null || true
    ln -s pts/ptmx "$ROOT/dev/ptmx"
    mount --bind "$CACHE/apt-archives" "$ROOT/var/cache/apt/archives"
}
unmount_root() {
    local m
    for m in $(mounts_below); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    [ -z "$(mounts_below)" ]
}
mount_root
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
# The same apt sources as the host (updates and security included).
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    rm -f "$ROOT/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$ROOT/etc/apt/sources.list.d/"
fi
# No service may start from a maintainer script (there is no init anyway).
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod 755 "$ROOT/usr/sbin/policy-rc.d"
echo "postfix postfix/main_mailer_type select Local only" | in_root debconf-set-selections
echo "postfix postfix/mailname string mx.example.org" | in_root debconf-set-selections
mkdir -p "$ROOT/tmp/debs" && cp "${debs[@]}" "$ROOT/tmp/debs/"

echo "-- apt-get install ./fedmail-*.deb"
if in_root apt-get update -qq >"$WORK/apt.log" 2>&1 \
    && in_root sh -c 'cd /tmp/debs && apt-get install -y -q --no-install-recommends ./fedmail-*.deb postfix swaks' \
        >>"$WORK/apt.log" 2>&1; then
    pass "apt-get install ./fedmail-*.deb postfix swaks"
else
    fail "apt-get install ./fedmail-*.deb postfix swaks"; tail -n 30 "$WORK/apt.log"
    echo "t-packaging: $passes passed, $failures failed"; exit 1
fi
lap "apt-install"
st() { in_root stat -c '%a %U:%G' "$1" 2>&1; }   # names as the root knows them
same "user fedmail exists" "$(in_root getent passwd fedmail | cut -d: -f1,6,7)" "fedmail:/var/lib/fedmail:/usr/sbin/nologin"
same "user fedmail-broker exists" "$(in_root getent passwd fedmail-broker | cut -d: -f1,6,7)" "fedmail-broker:/var/lib/fedmail-broker:/usr/sbin/nologin"
same "/etc/fedmail/keys" "$(st /etc/fedmail/keys)" "700 fedmail:fedmail"
same "/var/lib/fedmail" "$(st /var/lib/fedmail)" "750 fedmail:fedmail"
same "/var/cache/fedmail" "$(st /var/cache/fedmail)" "700 fedmail:fedmail"
same "/var/lib/fedmail-broker" "$(st /var/lib/fedmail-broker)" "700 fedmail-broker:fedmail-broker"
same "/etc/fedmail/fedmail-broker.conf" "$(st /etc/fedmail/fedmail-broker.conf)" "640 root:fedmail-broker"
same "/etc/fedmail/fedmail-milter.conf" "$(st /etc/fedmail/fedmail-milter.conf)" "644 root:root"
for unit in fedmail-milter fedmail-broker; do
    if [ -L "$ROOT/etc/systemd/system/multi-user.target.wants/$unit.service" ]; then
        pass "$unit.service is enabled"
    else
        fail "$unit.service is enabled"
    fi
done
# The milter restarts after a crash, paced, with no start limit that could
# leave mail tempfailing for good.
unitfile="$ROOT/lib/systemd/system/fedmail-milter.service"
for setting in Restart=on-failure RestartSec=2s StartLimitIntervalSec=0; do
    if grep -qx "$setting" "$unitfile"; then pass "fedmail-milter.service has $setting"; else fail "fedmail-milter.service has $setting"; fi
done
# The renewal timer: shipped, enabled, daily with a random delay, running
# fedmailctl renew --if-needed as fedmail.
if [ -L "$ROOT/etc/systemd/system/timers.target.wants/fedmail-renew.timer" ]; then
    pass "fedmail-renew.timer is enabled"
else
    fail "fedmail-renew.timer is enabled"
fi
if grep -q '^RandomizedDelaySec=' "$ROOT/lib/systemd/system/fedmail-renew.timer" \
    && grep -q '^ExecStart=/usr/bin/fedmailctl renew .*--if-needed' "$ROOT/lib/systemd/system/fedmail-renew.service" \
    && grep -qx 'User=fedmail' "$ROOT/lib/systemd/system/fedmail-renew.service"; then
    pass "fedmail-renew.timer runs fedmailctl renew --if-needed daily with a random delay as fedmail"
else
    fail "fedmail-renew.timer runs fedmailctl renew --if-needed daily with a random delay as fedmail"
fi
if command -v systemd-analyze >/dev/null; then
    for unit in fedmail-milter fedmail-broker fedmail-renew; do
        # The root has no systemd (so no sysinit.target) and no man: those two
        # complaints are expected; anything else about the unit is a failure
        # (syntax, unknown settings, missing executables such as /bin/kill).
        out=$(systemd-analyze verify --man=no --root="$ROOT" "/lib/systemd/system/$unit.service" 2>&1)
        if [ -z "$(grep -v -e 'Unit sysinit.target not found' <<<"$out" | grep "$unit")" ]; then
            pass "systemd-analyze verify $unit.service"
        else
            fail "systemd-analyze verify $unit.service"; echo "$out" | sed 's/^/    /'
        fi
    done
fi
out=$(in_root fedmail-milter -n 2>&1); status=$?
if [ "$status" = 78 ] && grep -q "fedmail-milter.conf" <<<"$out"; then
    pass "before enrollment fedmail-milter -n refuses the shipped configuration (78: $out)"
else
    fail "before enrollment fedmail-milter -n refuses the shipped configuration ($status: $out)"
fi

echo "-- inside the root (private network namespace): README.Debian, step by step"
cp packaging/test/chroot-test.sh "$ROOT/root/chroot-test.sh"
unshare --net --fork -- sh -c "ip link set lo up && exec chroot '$ROOT' /usr/bin/env -i \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/bash /root/chroot-test.sh" 2>&1 | tee "$WORK/chroot-test.log"
inner=${PIPESTATUS[0]}
passes=$((passes + $(grep -c '^  ok ' "$WORK/chroot-test.log")))
failures=$((failures + $(grep -c '^  FAIL ' "$WORK/chroot-test.log")))
if [ "$inner" != 0 ] && ! grep -q '^  FAIL ' "$WORK/chroot-test.log"; then fail "chroot-test.sh ended with status $inner"; fi
[ -s "$ROOT/root/commands.log" ] && cp "$ROOT/root/commands.log" "$WORK/chroot-commands.log"
kill_root_processes
lap "tests-in-root"

echo "-- under systemd: the root booted with systemd-nspawn"
# systemd cannot run in a chroot, but it can boot the same root as a
# container: the real units with all their hardening (ProtectSystem,
# SystemCallFilter, capability bounding set, ...) start the daemons enrolled
# above. Where the machine cannot boot a container the stage is skipped
# (said so below), unless FEDMAIL_REQUIRE_SYSTEMD=1.
systemd_stage() {
    local state= i
    if ! command -v systemd-nspawn >/dev/null; then
        echo "  SKIP systemd-nspawn is not installed (systemd-container)"; return 2
    fi
    if ! in_root apt-get install -y -q --no-install-recommends systemd systemd-sysv >"$WORK/systemd-install.log" 2>&1; then
        fail "apt-get install systemd systemd-sysv in the root"; tail -n 20 "$WORK/systemd-install.log"; return 1
    fi
    rm -f "$ROOT"/var/cache/fedmail/*.json   # the milter under systemd must ask the broker itself
    cp packaging/test/systemd-test.sh "$ROOT/root/systemd-test.sh"
    unmount_root || { fail "unmount the root before booting it"; return 1; }
    systemd-nspawn -q -D "$ROOT" -b --register=no --keep-unit --private-network >"$WORK/nspawn.log" 2>&1 &
    NSPAWN_PID=$!
    # The container's PID 1 (not nspawn's short-lived intermediate child):
    # the child whose innermost PID is 1.
    for i in $(seq 150); do LEADER=$(container_init) && break; sleep 0.2; done
    # Until PID 1 answers, systemctl fails; then --wait blocks until start-up is done.
    local end=$((SECONDS + 90))
    while [ -n "$LEADER" ] && [ $SECONDS -lt $end ] && kill -0 "$NSPAWN_PID" 2>/dev/null; do
        state=$(timeout 90 nsenter -t "$LEADER" -m -p -- systemctl is-system-running --wait 2>/dev/null)
        case "$state" in running|degraded|maintenance|stopping) break ;; esac
        sleep 0.5
    done
    case "$state" in
    running|degraded)
        echo "  booted: $state"
        nsenter -t "$LEADER" -m -u -i -n -p -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            /bin/bash /root/systemd-test.sh 2>&1 | tee "$WORK/systemd-test.log"
        passes=$((passes + $(grep -c '^  ok ' "$WORK/systemd-test.log")))
        failures=$((failures + $(grep -c '^  FAIL ' "$WORK/systemd-test.log")))
        ;;
    *)
        if [ "${FEDMAIL_REQUIRE_SYSTEMD:-0}" = 1 ]; then fail "boot the root with systemd-nspawn ('$state')"
        else echo "  SKIP this machine cannot boot the root with systemd-nspawn ('$state'):"; fi
        tail -n 5 "$WORK/nspawn.log" | sed 's/^/    /'
        ;;
    esac
    if [ -n "$LEADER" ]; then nsenter -t "$LEADER" -m -p -- systemctl poweroff >/dev/null 2>&1; fi
    for i in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        # SIGKILL to the container's PID 1 ends every process inside it.
        LEADER=$(container_init || echo "$LEADER")
        [ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
        for i in $(seq 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
    fi
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID= LEADER=
    mount_root
}
systemd_stage
lap "systemd"

echo "-- reinstall, remove"
if in_root sh -c 'cd /tmp/debs && apt-get install -y -q --reinstall ./fedmail-*.deb' >"$WORK/reinstall.log" 2>&1; then
    pass "apt-get install --reinstall ./fedmail-*.deb"
else
    fail "apt-get install --reinstall ./fedmail-*.deb"; tail -n 20 "$WORK/reinstall.log"
fi
same "the reinstall kept the organization key" "$(st /etc/fedmail/keys/org.key)" "600 fedmail:fedmail"
same "the reinstall kept the edited configuration" \
    "$(grep -c '^BrokerURL *https://127.0.0.1:8443' "$ROOT/etc/fedmail/fedmail-milter.conf")" "1"
same "the reinstall kept the directory modes" "$(st /etc/fedmail/keys) $(st /var/lib/fedmail-broker)" \
    "700 fedmail:fedmail 700 fedmail-broker:fedmail-broker"
if in_root apt-get remove -y -q fedmail-milter fedmail-broker fedmail-tools >"$WORK/remove.log" 2>&1; then
    pass "apt-get remove fedmail-milter fedmail-broker fedmail-tools"
else
    fail "apt-get remove"; tail -n 20 "$WORK/remove.log"
fi
if [ ! -e "$ROOT/usr/sbin/fedmail-milter" ] && [ -e "$ROOT/etc/fedmail/keys/org.key" ] \
    && [ -e "$ROOT/var/lib/fedmail-broker/ca.key" ] && in_root getent passwd fedmail >/dev/null; then
    pass "remove keeps keys, broker state, configuration and users"
else
    fail "remove keeps keys, broker state, configuration and users"
fi
lap "reinstall-remove"

echo "-- apt-get purge"
if in_root apt-get purge -y -q fedmail-milter fedmail-broker fedmail-tools >"$WORK/purge.log" 2>&1 \
    && ! in_root dpkg -l 'fedmail*' 2>/dev/null | grep -E '^[a-z][a-zA-Z] +fedmail' | grep -vqE '^(un|pn) '; then
    pass "apt-get purge fedmail-milter fedmail-broker fedmail-tools"
else
    fail "apt-get purge"; tail -n 20 "$WORK/purge.log"
fi
# Purge never destroys the irreplaceable state unless asked: the CA key, the
# broker database, the organization key (and the users owning them) stay,
# and the purge says where.
for path in /var/lib/fedmail-broker/ca.key /var/lib/fedmail-broker/broker.db /etc/fedmail/keys/org.key; do
    if [ -e "$ROOT$path" ]; then pass "purge kept $path"; else fail "purge kept $path"; fi
done
same "purge kept the key's owner and mode" "$(st /etc/fedmail/keys/org.key)" "600 fedmail:fedmail"
if grep -q '/var/lib/fedmail-broker' "$WORK/purge.log" && grep -q '/etc/fedmail/keys' "$WORK/purge.log"; then
    pass "purge says where the CA keys, database and organization key are kept"
else
    fail "purge says where the CA keys, database and organization key are kept"
fi
for user in fedmail fedmail-broker; do
    if in_root getent passwd "$user" >/dev/null; then pass "purge kept user $user (owner of kept state)"; else fail "purge kept user $user"; fi
done
for path in /etc/fedmail/fedmail-milter.conf /etc/fedmail/fedmail-broker.conf /var/lib/fedmail /var/cache/fedmail \
            /usr/sbin/fedmail-milter /usr/sbin/fedmail-broker /usr/bin/fedmailctl /lib/systemd/system/fedmail-milter.service \
            /lib/systemd/system/fedmail-renew.timer /etc/systemd/system/timers.target.wants/fedmail-renew.timer \
            /etc/systemd/system/multi-user.target.wants/fedmail-milter.service; do
    if [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ]; then fail "purge removed $path"; else pass "purge removed $path"; fi
done
# Reinstalled and purged again with FEDMAIL_PURGE_STATE=yes: everything goes.
if in_root sh -c 'cd /tmp/debs && apt-get install -y -q ./fedmail-*.deb' >"$WORK/reinstall2.log" 2>&1; then
    same "a reinstallation finds the kept organization key" "$(st /etc/fedmail/keys/org.key)" "600 fedmail:fedmail"
    if in_root env FEDMAIL_PURGE_STATE=yes apt-get purge -y -q fedmail-milter fedmail-broker fedmail-tools >"$WORK/purge2.log" 2>&1; then
        pass "FEDMAIL_PURGE_STATE=yes apt-get purge"
    else
        fail "FEDMAIL_PURGE_STATE=yes apt-get purge"; tail -n 20 "$WORK/purge2.log"
    fi
    for user in fedmail fedmail-broker; do
        if in_root getent passwd "$user" >/dev/null || in_root getent group "$user" >/dev/null; then
            fail "FEDMAIL_PURGE_STATE=yes purge removed user and group $user"
        else
            pass "FEDMAIL_PURGE_STATE=yes purge removed user and group $user"
        fi
    done
    for path in /etc/fedmail /var/lib/fedmail-broker; do
        if [ -e "$ROOT$path" ]; then fail "FEDMAIL_PURGE_STATE=yes purge removed $path"; else pass "FEDMAIL_PURGE_STATE=yes purge removed $path"; fi
    done
else
    fail "reinstall after purge"; tail -n 20 "$WORK/reinstall2.log"
fi
if in_root dpkg-statoverride --list | grep >/dev/null fedmail; then fail "purge removed the statoverride"; else pass "purge removed the statoverride"; fi
lap "purge"

echo "t-packaging: timings: ${timings[*]}"
echo "t-packaging: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
