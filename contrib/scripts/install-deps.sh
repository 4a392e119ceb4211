#!/usr/bin/env bash
# Installs the Debian packages FedMail needs to build, demo and test.
# Debian 12, as root. Safe to run again: already-installed packages are skipped.
set -euo pipefail

PACKAGES=(
    # build
    pkg-config libmilter-dev libssl-dev libsqlite3-dev openssl
    # mail: the MTA the milter plugs into, a client, the milter test driver
    postfix swaks miltertest
    # broker storage
    sqlite3 postgresql
    # virus scanner; tests run a private clamd with their own signatures
    clamav-daemon
    # test tooling
    procps lsof iproute2 ca-certificates curl jq
    nsd bind9-dnsutils  # t-dns-validation: a private authoritative DNS server, dig
    opendkim opendkim-tools opendmarc  # t-mailstack: private OpenDKIM and OpenDMARC instances in the milter chain
    python3-milter  # t-faults: the tempfail-once test milter (pymilter, run by /usr/bin/python3)
    prometheus  # t-metrics: a private Prometheus scraping both milters and the broker
    time  # GNU time: peak RSS in t-crypto-interop and contrib/bench
    # Debian packaging (packaging/build-debs.sh, contrib/test/t-packaging.sh)
    build-essential debhelper lintian debootstrap rsync systemd-container
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep >/dev/null "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix: no interactive questions; tests run their own instances.
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string localhost" | debconf-set-selections
    # freshclam: no update daemon, no cron job (tests bring their own signatures).
    echo "clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual" | debconf-set-selections
    apt-get update -qq
    # No package may start a service while installing (freshclam would go
    # to the network): a temporary policy-rc.d unless one is already there.
    policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy_added=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if ((policy_added)); then rm -f /usr/sbin/policy-rc.d; fi
    # The package's own instance is not used by the tests; keep it stopped.
    postfix stop >/dev/null 2>&1 || true
fi
# The packaged clamd and freshclam are not used either (tests start a private
# clamd with a test database); keep them off, so nothing downloads signatures.
# Nor are the packaged OpenDKIM and OpenDMARC (t-mailstack runs its own).
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now clamav-freshclam.service clamav-daemon.service clamav-daemon.socket \
        opendkim.service opendmarc.service >/dev/null 2>&1 || true
fi
echo "install-deps: all build and test packages present"
