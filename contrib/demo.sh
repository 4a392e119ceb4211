#!/usr/bin/env bash
# FedMail demo (README command a): builds fedmail-milter, starts it and a
# private Postfix on loopback (smtpd_milters pointing at the milter,
# milter_default_action = tempfail), sends one message with swaks, and
# prints the message as delivered — with the X-FedMail-Filter header the
# Swift milter added. Everything runs under a temporary directory and is
# stopped and removed at the end.
#
# Usage: sudo bash contrib/demo.sh        (Debian 12; installs what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts a private Postfix): sudo bash contrib/demo.sh"; exit 1; }
bash contrib/scripts/install-deps.sh
echo "== building fedmail-milter"
swift build --product fedmail-milter 2>&1 | tail -n 3
FEDMAIL_BIN=$(swift build --show-bin-path); export FEDMAIL_BIN

BASE=$(mktemp -d /tmp/fedmail-demo.XXXXXX); chmod 755 "$BASE"
FM_DIR=$BASE/milter; PF_BASE=$BASE/postfix
mkdir -p "$FM_DIR" "$PF_BASE"; chmod 755 "$FM_DIR" "$PF_BASE"
. contrib/test/lib/fedmail-milter.sh
. contrib/test/lib/postfix.sh
trap 'pf_cleanup; fm_cleanup; rm -rf "$BASE"' EXIT

cat >"$FM_DIR/fedmail-milter.conf" <<C
Socket   local:$FM_DIR/milter.sock
UserID   postfix:postfix
UMask    007
Syslog   no
TemporaryDirectory $FM_DIR
C
echo "== starting fedmail-milter"
fm_start milter "$FM_DIR/fedmail-milter.conf"
PORT=$(pf_free_port)
echo "== starting Postfix on 127.0.0.1:$PORT (domain demo.test, smtpd_milters = unix:$FM_DIR/milter.sock)"
pf_init demo "$PORT" demo.test
pf_set demo "smtpd_milters = unix:$FM_DIR/milter.sock" "milter_default_action = tempfail"
pf_start demo

echo "== sending one message with swaks"
swaks --server "127.0.0.1:$PORT" --from alice@example.org --to bob@demo.test \
    --h-Subject "FedMail demo" --body "Hello Bob, this message went through the Swift milter." \
    | grep -E '^ *(-> +(MAIL|RCPT)|<- +(250 2\.0\.0|[45][0-9][0-9] ))' || true
pf_wait_mail demo inbox 1 30
echo "== delivered message ($(ls "$(pf_maildir demo)"/new/*))"
cat "$(pf_maildir demo)"/new/*
echo "== fedmail-milter log"
cat "$FM_DIR/milter.log"
