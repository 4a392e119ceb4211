# The harness of the test suites (source it; the end-to-end suites use
# scenario and want too):
#   pass TEXT / fail TEXT    count and print an "ok" / "FAIL" line; failures
#                            are remembered with their scenario in failed[]
#   scenario ID TITLE        start scenario ID ("== ID: TITLE")
#   want ID                  true unless ONLY is set and does not list ID
passes=0; failures=0; failed=(); SCENARIO=setup
pass() { passes=$((passes + 1)); echo "  ok   $*"; }
fail() { failures=$((failures + 1)); failed+=("$SCENARIO: $*"); echo "  FAIL $*"; }
scenario() { SCENARIO=$1; echo "== $1: $2"; }
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
