#!/usr/bin/env bash
# Integration: three oracled instances behind haproxy (TCP mode, health-checking /healthz: the
# stand-in for an AWS NLB), each polling its own demo chrony pair whose client believes in a
# different offset (5 ms, 2 ms, none), so their bounds differ. A sequential client, a new
# connection per request and no session minimum:
#   - without commit-wait the order breaks (the control: the setup can catch a missing wait);
#   - with commit-wait every timestamp is above the one before, across instances;
#   - an instance killed mid-run is routed around, with none out of order;
#   - an instance whose chrony stops leaves the pool once its health check fails, with none out
#     of order meanwhile.
# Usage: it_balancer.sh ORACLED LB_CLIENT DEMO_CHRONY
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
LB_CLIENT=$2
DEMO=$3
for tool in chronyd haproxy; do
    if ! command -v $tool >/dev/null; then
        echo "SKIP: $tool not installed (dev/install-deps --test)"
        exit 77
    fi
done

declare -A OPORT HPORT OPID
for name in a b c; do
    case $name in
    a) offset=(--offset 0.005) ;;
    b) offset=(--offset 0.002) ;;
    c) offset=() ;;
    esac
    demo_pair "$DEMO" "$TMP/chrony-$name" "${offset[@]}"
    start_oracled_on "$ORACLED" "oracled-$name" "$CMD_PORT" --grace 1s
    OPID[$name]=$PID
    OPORT[$name]=$PORT
    HPORT[$name]=$HTTP
done
for name in a b c; do
    wait_for_log "$TMP/oracled-$name.log" "${OPID[$name]}" "ready: serving timestamps" 30
    bound=$(curl -s "http://127.0.0.1:${HPORT[$name]}/healthz" | jq -r .bound_ns)
    echo "# instance $name: port ${OPORT[$name]}, bound $bound ns"
done
pass "three instances ready, their bounds set apart by chrony offsets of 5 ms, 2 ms and none"

# write_config PORT: haproxy's configuration, listening on PORT.
write_config() {
    cat >"$TMP/haproxy.cfg" <<EOF
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend oracle
    bind 127.0.0.1:$1
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 100ms fall 2 rise 2
    server a 127.0.0.1:${OPORT[a]} port ${HPORT[a]}
    server b 127.0.0.1:${OPORT[b]} port ${HPORT[b]}
    server c 127.0.0.1:${OPORT[c]} port ${HPORT[c]}
EOF
}

# haproxy cannot take port 0: try random ports until one is free.
HAPROXY=""
for _ in $(seq 1 20); do
    LB=$((20000 + RANDOM % 40000))
    write_config $LB
    haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
    pid=$!
    sleep 0.3
    if kill -0 $pid 2>/dev/null; then
        HAPROXY=$pid
        track_pid $HAPROXY
        break
    fi
    wait $pid 2>/dev/null || true
done
[ -n "$HAPROXY" ] || fail "haproxy did not start: $(cat "$TMP/haproxy.log")"

# lb RUN COUNT MODE: the sequential client through the balancer; its JSON in $J.
lb() {
    J=$("$LB_CLIENT" "127.0.0.1:$LB" "$2" "$3" 2>"$TMP/lb-$1.err")
    echo "# $1: $J"
}

lb control 300 nowait
jq -e '.failures == 0 and .instances == 3' <<<"$J" >/dev/null || fail "control run: $J"
jq -e '.regressions > 0' <<<"$J" >/dev/null ||
    fail "without commit-wait no timestamp went backwards: the setup cannot catch a missing wait"
pass "control, without commit-wait: $(jq .regressions <<<"$J") of 300 timestamps out of order"

lb wait 300 wait
jq -e '.failures == 0 and .instances == 3 and .regressions == 0' <<<"$J" >/dev/null ||
    fail "with commit-wait: $J"
pass "with commit-wait: 300 timestamps across 3 instances, none out of order"

"$LB_CLIENT" "127.0.0.1:$LB" 400 wait >"$TMP/kill.json" 2>"$TMP/lb-kill.err" &
RUN=$!
track_pid $RUN
sleep 1
kill -9 "${OPID[c]}"
wait $RUN || fail "client: $(cat "$TMP/lb-kill.err")"
J=$(cat "$TMP/kill.json")
echo "# kill: $J"
jq -e '.failures == 0 and .regressions == 0' <<<"$J" >/dev/null || fail "instance killed: $J"
pass "instance c killed mid-run: routed around ($(jq .retries <<<"$J") retries), none out of order"

"$LB_CLIENT" "127.0.0.1:$LB" 400 wait >"$TMP/chrony.json" 2>"$TMP/lb-chrony.err" &
RUN=$!
track_pid $RUN
sleep 0.5
"$DEMO" stop-client "$TMP/chrony-b"
wait_for_log "$TMP/oracled-b.log" "${OPID[b]}" "clock UNKNOWN" 10
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HPORT[b]}/healthz")
[ "$code" = 503 ] || fail "instance b's /healthz: $code"
wait $RUN || fail "client: $(cat "$TMP/lb-chrony.err")"
J=$(cat "$TMP/chrony.json")
echo "# chrony: $J"
jq -e '.failures == 0 and .regressions == 0' <<<"$J" >/dev/null || fail "chrony stopped: $J"
lb after 60 wait
jq -e '.failures == 0 and .regressions == 0 and .instances == 1' <<<"$J" >/dev/null ||
    fail "only instance a should be left: $J"
pass "instance b's chrony stopped: /healthz 503, out of the pool, none out of order meanwhile"
echo "all $CHECKS checks passed"
