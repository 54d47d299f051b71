# The workshop seed's scripts (steps 1, 3, 4) as shipped in scripts/examples run unchanged.
. "$SB_ROOT/test/e2e/lib.sh"
export K6_SUMMARY_MODE=legacy # the assertions below read the classic summary layout
start_target
ex="$SB_ROOT/scripts/examples"
run_sb run -e TARGET="$TARGET/" "$ex/workshop-1.js"
expect_rc 0
expect_out 'default: 1 iterations shared among 1 VUs \(maxDuration: 10m0s, gracefulStop: 30s\)'
[ "$(metric_value http_reqs)" = 1 ] || { show; fail "workshop-1: http_reqs"; }
run_sb run -e TARGET="$TARGET/" "$ex/workshop-3.js"
expect_rc 0
expect_out 'default: 50 iterations shared among 10 VUs'
[ "$(metric_value iterations)" = 50 ] || { show; fail "workshop-3: iterations"; }
# workshop-4 with shorter stages from the command line (its own are 15 s)
before=$(target_requests)
run_sb run -s 1s:5 -s 1s:5 -e TARGET="$TARGET/" "$ex/workshop-4.js"
expect_rc 0
expect_out 'Up to 5 looping VUs for 2s over 2 stages'
expect_out '✓ is status 200'
expect_out '✓ http_req_duration\.+: avg='
[ "$(metric_value http_reqs)" = $(($(target_requests) - before)) ] || { show; fail "workshop-4: requests disagree"; }
