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
    # test tooling
    procps lsof iproute2 ca-certificates curl jq
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix: no interactive questions; tests run their own instances.
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string localhost" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The package's own instance is not used by the tests; keep it stopped.
    postfix stop >/dev/null 2>&1 || true
fi
echo "install-deps: all build and test packages present"
