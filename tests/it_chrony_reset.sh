#!/usr/bin/env bash
# Integration: RESET_SOURCES and BURST (what AWS ClockBound asks of chronyd after a clock
# disruption) against the real chronyd 4.3, through reset-probe (chrony_client + chrony_proto).
#   - over UDP chronyd refuses both (our decoder: "unauthorised", chronyc: "501 Not authorised")
#     and does nothing: the source keeps its samples, and no burst of samples follows;
#   - on its unix socket RESET_SOURCES drops every sample (`chronyc sourcestats` NP 0) and the
#     reference (`chronyc tracking`: reference ID 0, Not synchronised), and BURST 4/8 brings four
#     samples and the synchronisation back within seconds, long before the next poll;
#   - a chronyd with no source answers BURST with "no such source" and RESET_SOURCES with success.
# Its own chrony pair, not dev/demo-chrony's: that one polls every 1/16 s, which refills the
# samples at once and hides the burst. Here the client polls every 64 s (minpoll 6): after its
# iburst (4 samples, 2 s apart), nothing but a BURST brings a sample for a minute. Both chronyds
# run with -x (never touching the clock), in $TMP, and are stopped by their PIDs on exit.
# Usage: it_chrony_reset.sh RESET_PROBE
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

PROBE=$1
if ! command -v chronyd >/dev/null || ! command -v chronyc >/dev/null; then
    echo "SKIP: chronyd/chronyc not installed (apt-get install chrony)"
    exit 77
fi
if [ "$(id -u)" -eq 0 ]; then
    user_opt=(-u root)
else
    user_opt=(-U)
fi

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if ! command -v ss >/dev/null || [ -z "$(ss -Hlun "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return
        fi
    done
    fail "no free UDP port found"
}

D=$TMP/pair
mkdir -p "$D"
NTP_PORT=$(free_port)
CMD_PORT=$(free_port)
# chronyd creates run/ and srun/ itself, with the permissions it insists on for its sockets.
SOCK=$D/run/chronyd.sock
SERVER_SOCK=$D/srun/chronyd.sock
cat >"$D/server.conf" <<EOF
local stratum 1
allow 127.0.0.1
bindaddress 127.0.0.1
port $NTP_PORT
cmdport 0
bindcmdaddress $SERVER_SOCK
pidfile $D/server.pid
driftfile $D/server.drift
EOF
cat >"$D/client.conf" <<EOF
server 127.0.0.1 port $NTP_PORT iburst minpoll 6 maxpoll 6
port 0
cmdport $CMD_PORT
bindcmdaddress 127.0.0.1
bindcmdaddress $SOCK
pidfile $D/client.pid
driftfile $D/client.drift
EOF
chronyd -x -d "${user_opt[@]}" -f "$D/server.conf" >"$D/server.log" 2>&1 &
track_pid $!
chronyd -x -d "${user_opt[@]}" -f "$D/client.conf" >"$D/client.log" 2>&1 &
CLIENT_PID=$!
track_pid $CLIENT_PID

# samples: NP of the source in `chronyc sourcestats` ("" when chronyd does not answer).
samples() {
    chronyc -c -h "$SOCK" sourcestats 2>/dev/null | awk -F, 'NR == 1 { print $2 }'
}
# tracking: reference ID and leap status of `chronyc tracking`.
tracking() {
    chronyc -c -h "$SOCK" tracking 2>/dev/null | awk -F, '{ print $1 "," $NF }'
}
# wait_samples N SECONDS: until the source has at least N samples and chronyd is synchronised
# to it; prints how long that took.
wait_samples() {
    local t0=$SECONDS deadline=$((SECONDS + $2)) n
    while [ $SECONDS -lt $deadline ]; do
        kill -0 $CLIENT_PID 2>/dev/null || fail "client chronyd exited: $(cat "$D/client.log")"
        n=$(samples)
        if [ -n "$n" ] && [ "$n" -ge "$1" ] && [ "$(tracking)" = "7F000001,Normal" ]; then
            echo $((SECONDS - t0))
            return
        fi
        sleep 0.1
    done
    fail "no $1 samples and synchronisation within $2 s: NP '$(samples)', tracking '$(tracking)'"
}
t=$(wait_samples 4 30)
pass "chrony pair up, the iburst over: 4 samples, synchronised to 127.0.0.1 (after ${t} s)"

# --- over UDP: refused, nothing done ---
UDP=udp:127.0.0.1:$CMD_PORT
run 1 "$PROBE" "$UDP" reset
contains "$ERR" "^reset-probe: unauthorised$" "RESET_SOURCES over UDP"
run 1 "$PROBE" "$UDP" burst 4/8
contains "$ERR" "^reset-probe: unauthorised$" "BURST over UDP"
for cmd in "reset sources" "burst 4/8"; do
    rc=0
    # shellcheck disable=SC2086 # the words of the command
    chronyc -h 127.0.0.1 -p "$CMD_PORT" $cmd >"$TMP/chronyc.out" 2>&1 || rc=$?
    [ $rc -ne 0 ] || fail "chronyc $cmd over UDP succeeded"
    contains "$(cat "$TMP/chronyc.out")" "501 Not authorised" "chronyc $cmd over UDP"
done
[ "$(samples)" -ge 4 ] || fail "the source lost its samples to a refused reset: NP $(samples)"
[ "$(tracking)" = "7F000001,Normal" ] || fail "a refused reset changed tracking: $(tracking)"
pass "over UDP chronyd refuses RESET_SOURCES and BURST (ours: unauthorised, chronyc: 501 Not" \
    "authorised) and keeps its samples (NP $(samples)) and reference"

# --- on the unix socket: RESET_SOURCES drops everything ---
UNIX=unix:$SOCK
run 0 "$PROBE" "$UNIX" reset
[ "$OUT" = ok ] || fail "reset-probe printed '$OUT'"
n=$(samples)
[ "$n" = 0 ] || fail "after RESET_SOURCES the source still has $n samples"
[ "$(tracking)" = "00000000,Not synchronised" ] ||
    fail "after RESET_SOURCES tracking says $(tracking)"
pass "RESET_SOURCES on the unix socket: sourcestats NP 0, tracking reference ID 0," \
    "Not synchronised"

# A refused BURST brings no sample: a real one would within 2 s (its requests go out every
# min(2 s, poll / 4)), and the next regular poll is a minute away.
run 1 "$PROBE" "$UDP" burst
contains "$ERR" "^reset-probe: unauthorised$" "BURST over UDP"
sleep 2.5
n=$(samples)
[ "$n" = 0 ] || fail "$n samples came after a refused BURST"
pass "after a refused BURST, 2.5 s without a sample (NP 0)"

# --- on the unix socket: BURST samples again at once ---
run 0 "$PROBE" "$UNIX" burst 4/8
[ "$OUT" = ok ] || fail "reset-probe printed '$OUT'"
t=$(wait_samples 4 20)
sleep 2.5
n=$(samples)
[ "$n" = 4 ] || fail "the burst of 4 good samples went on: NP $n"
pass "BURST 4/8 on the unix socket: 4 samples and synchronised again after ${t} s (the next" \
    "regular poll was a minute away), and no fifth sample"

# --- a chronyd without sources ---
run 1 "$PROBE" "unix:$SERVER_SOCK" burst
contains "$ERR" "^reset-probe: no such source$" "BURST without sources"
rc=0
chronyc -h "$SERVER_SOCK" burst 4/8 >"$TMP/chronyc.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "chronyc burst without sources succeeded"
contains "$(cat "$TMP/chronyc.out")" "503 No such source" "chronyc burst without sources"
run 0 "$PROBE" "unix:$SERVER_SOCK" reset
pass "a chronyd without sources: BURST no such source (chronyc: 503), RESET_SOURCES ok"

run 2 "$PROBE" "$UNIX" burst 0/8
run 2 "$PROBE" "$UNIX" burst 9/8
run 2 "$PROBE" "$UNIX" reset 4/8
pass "reset-probe refuses bad counts and arguments without asking chronyd"
echo "all $CHECKS checks passed"
