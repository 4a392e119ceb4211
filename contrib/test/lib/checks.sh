# Shell helpers the end-to-end suites share to send mail and check what
# became of it. Source after lib/federation.sh (pf_dir, pf_log,
# fed_milter_log, fed_tap_dir) and lib/messages.sh (send_file).
#
#   delivered ORG PATTERN        Maildir files of ORG's Postfix (all mailboxes) containing PATTERN
#   count_delivered ORG PATTERN  how many
#   wait_delivered ORG PATTERN COUNT [SECONDS]   until COUNT are there (default 30 s)
#   msg FILE FIELD... -- BODY    writes a CRLF message (fields as given)
#   reply OUTPUT                 "accepted", or the first refusal send_file printed
#   expect_reply WHAT OUTPUT PREFIX   pass/fail: the reply starts with PREFIX
#   logmark ORG                  lines in ORG's milter log now
#   log_has ORG MARK TEXT [SECONDS]   TEXT appears after line MARK (waits, default 10 s)
#   log_line ORG MARK TEXT       the first such line, from "direction=" on
#   pfmark ORG                   lines in ORG's Postfix log now
#   sealed_wire FILE             the bytes look like a FedMail sealed message
#   wire FROM TO PATTERN         the recorded FROM->TO messages containing PATTERN

delivered() { find "$(pf_dir "$1")/mail" -path '*/new/*' -type f -print0 2>/dev/null | xargs -0r grep -lF -- "$2" 2>/dev/null; }
count_delivered() { delivered "$1" "$2" | grep -c . ; }
wait_delivered() {
    for _ in $(seq 1 $((${4:-30} * 5))); do
        [ "$(count_delivered "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.2
    done
    return 1
}

msg() {
    local f=$1; shift
    { while [ "$1" != -- ]; do printf '%s\r\n' "$1"; shift; done; shift; printf '\r\n%s\r\n' "$*"; } >"$f"
}

reply() {
    local r; r=$(sed -n 's/^error //p; s/^refused [^ ]* //p' <<<"$1")
    if [ -n "$r" ]; then echo "${r%%$'\n'*}"
    elif grep >/dev/null '^accepted' <<<"$1"; then echo accepted
    else echo "no reply: $(tr '\n' ' ' <<<"$1" | cut -c1-300)"; fi
}
expect_reply() {
    local r; r=$(reply "$2")
    if [[ $r == "$3"* ]]; then pass "$1: '$r'"; else fail "$1: expected '$3...', got '$r'"; fi
}

logmark() { wc -l <"$(fed_milter_log "$1")" 2>/dev/null || echo 0; }
log_has() {
    for _ in $(seq 1 $((${4:-10} * 5))); do
        tail -n +"$(($2 + 1))" "$(fed_milter_log "$1")" 2>/dev/null | grep -F -- "$3" >/dev/null && return 0
        sleep 0.2
    done
    return 1
}
log_line() { tail -n +"$(($2 + 1))" "$(fed_milter_log "$1")" 2>/dev/null | grep -m1 -F -- "$3" | sed 's/^.*: direction=/direction=/' | cut -c1-300; }
pfmark() { wc -l <"$(pf_log "$1")"; }

sealed_wire() {
    grep -aqiE "^Content-Type: application/pkcs7-mime;.*smime-type=authEnveloped-data" "$1" && grep -aqi "^FedMail-Token: v=1; d=" "$1"
}
wire() { grep -lF -- "$3" "$(fed_tap_dir "$1" "$2")"/msg-*.eml 2>/dev/null; }
