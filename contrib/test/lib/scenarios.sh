# The harness of the test suites (source it; the end-to-end suites use
# scenario and want too):
#   pass TEXT / fail TEXT    count and print an "ok" / "FAIL" line; failures
#                            are remembered with their scenario in failed[]
#   scenario ID TITLE        start scenario ID ("== ID: TITLE")
#   want ID                  true unless ONLY is set and does not list ID
#   check TEXT CMD...         pass TEXT when CMD succeeds, else fail TEXT
#   die TEXT                  fail TEXT and stop the suite (for a step the
#                             rest depends on); runs $DIE_HOOK first if set
#   summary NAME              print the counts; true when nothing failed
passes=0; failures=0; failed=(); SCENARIO=setup
pass() { passes=$((passes + 1)); echo "  ok   $*"; }
fail() { failures=$((failures + 1)); failed+=("$SCENARIO: $*"); echo "  FAIL $*"; }
scenario() { SCENARIO=$1; echo "== $1: $2"; }
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
die() { fail "$*"; [ -n "${DIE_HOOK:-}" ] && $DIE_HOOK; summary "${SUITE:-suite}"; exit 1; }
summary() {
    echo "$1: $passes passed, $failures failed"
    local f; for f in "${failed[@]}"; do echo "  FAILED $f"; done
    [ "$failures" -eq 0 ]
}
