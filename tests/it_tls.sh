#!/usr/bin/env bash
# Integration: TLS on the oracle port, against the daemon itself (fake chronyd), with
# certificates the test makes (openssl, EC P-256): a CA, a server certificate for localhost and
# 127.0.0.1, client certificates (db-1; db-2 from the same CA; db-1 again from a second CA; db-3
# expired, made with `openssl ca -startdate/-enddate`, no faketime, the clock never touched).
# - Mutual TLS (--tls-ca, and --tls-listen beside a plaintext --listen, the migration setup):
#   oracle-cli gets a timestamp and 5 commit-waited ones; openssl s_client, an independent
#   client, verifies the server (TLS 1.3) and carries two oracle Requests made by protoc from
#   proto/oracle.proto (Now, GetTimestamp with commit-wait), whose Responses protoc decodes.
# - Refusals, each counted once in oracled_tls_handshakes_total under its reason (every other
#   reason unchanged) and logged with it: no client certificate (no_cert), one from the other CA
#   (untrusted), an expired one (expired), one not on --tls-allow-client CN=db-1 (not_allowed,
#   while db-1 is let in), a TLS 1.2 client under the default minimum 1.3 (protocol), and a
#   plaintext client (protocol: it reads a plain BAD_REQUEST saying the address speaks TLS). A
#   TLS client at the plaintext port fails cleanly too; a plaintext client there is served.
# - SIGHUP: a key that does not match the certificate, a garbage certificate and an expired one
#   are each refused (reloads failed, logged, the old certificate still served to new clients);
#   a new certificate (CN=oracled-2) is taken (reloads ok, new clients see it, the expiry in
#   /metrics and /healthz follows). All of it while `oracle-cli watch` polls every 100 ms on one
#   long-lived connection (every poll answered, the connection never replaced) and a loop of
#   new TLS clients runs (none fails). A GetTimestamp answered NOT_READY for the state file (a
#   slow fsync on a busy machine; seen once in ~20 runs while the tree was being rebuilt) went
#   through TLS all the same: retried (ts_served) or counted apart, never excused otherwise.
# - A handshake dribbled one byte a second (tests/support/tls_dribble.py, a real ClientHello: its
#   first 64 bytes at once, so the server is inside the record, then a byte a second)
#   under --tls-handshake-timeout 3s: other TLS clients (oracle-cli now) are served meanwhile,
#   each in well under 1 s; the dribbler is closed within the timeout plus the 1 s sweep (and
#   a second of slack), counted as timeout and logged.
# - /metrics: oracled_tls_info, the certificate's expiry, the reload counters; /healthz: "tls".
# Negative controls (by hand): with --tls-handshake-timeout 60s in the dribble part the dribbler
# is still open after 10 s and the test fails there; with --tls-min-version 1.2 on the first
# instance, the TLS 1.2 check fails (s_client connects).
# Usage: it_tls.sh ORACLED FAKE_CHRONY ORACLE_CLI
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
CLI=$3
PROTO=$(cd "$(dirname "$0")/../proto" && pwd)
DRIBBLE=$(dirname "$0")/support/tls_dribble.py
REASONS=(ok no_cert untrusted expired not_allowed protocol peer_alert closed timeout)

for tool in openssl protoc python3 curl jq ss; do
    command -v "$tool" >/dev/null || fail "this test needs $tool"
done
python3 -c 'import ssl, select, socket' || fail "python3 without its ssl module"

# --- certificates ---

PKI=$TMP/pki
mkdir -p "$PKI/ca-db"
: >"$PKI/ca-db/index.txt"
openssl rand -hex 8 >"$PKI/ca-db/serial"
# The minimal configuration `openssl ca` needs, for the expired certificates only.
cat >"$PKI/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $PKI/ca-db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
EOF

# new_ca NAME CN: a self-signed CA certificate, PKI/NAME.crt and .key.
new_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$1.key" \
        -out "$PKI/$1.crt" -subj "/CN=$2" -days 2 2>"$PKI/$1.err" || fail "CA $1: $(cat "$PKI/$1.err")"
}

# issue NAME CN CA SAN EKU DAYS|expired: a certificate CA signed, PKI/NAME.crt and .key;
# "expired": valid only on 2020-01-01.
issue() {
    local name=$1 cn=$2 ca=$3 san=$4 eku=$5 days=$6
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$name.key" \
        -out "$PKI/$name.csr" -subj "/CN=$cn" 2>"$PKI/$name.err" || fail "$name: $(cat "$PKI/$name.err")"
    printf '[ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n%s\n%s\n' \
        "extendedKeyUsage = $eku" "subjectAltName = $san" >"$PKI/$name.ext"
    if [ "$days" = expired ]; then
        openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/$ca.crt" -keyfile "$PKI/$ca.key" \
            -in "$PKI/$name.csr" -out "$PKI/$name.crt" -notext -startdate 20200101000000Z \
            -enddate 20200102000000Z -extfile "$PKI/$name.ext" -extensions ext \
            >"$PKI/$name.err" 2>&1 || fail "$name: $(cat "$PKI/$name.err")"
    else
        openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
            -set_serial "0x$(openssl rand -hex 8)" -days "$days" -extfile "$PKI/$name.ext" \
            -extensions ext -out "$PKI/$name.crt" 2>"$PKI/$name.err" ||
            fail "$name: $(cat "$PKI/$name.err")"
    fi
}

# not_after FILE: the certificate's notAfter, Unix time.
not_after() {
    date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}

new_ca ca "oracled test CA"
new_ca ca2 "another test CA"
issue server oracled ca DNS:localhost,IP:127.0.0.1 serverAuth 2
issue server2 oracled-2 ca DNS:localhost,IP:127.0.0.1 serverAuth 3
issue server-expired oracled-old ca DNS:localhost,IP:127.0.0.1 serverAuth expired
issue db1 db-1 ca DNS:db-1.example clientAuth 2
issue db2 db-2 ca DNS:db-2.example clientAuth 2
issue rogue db-1 ca2 DNS:db-1.example clientAuth 2
issue db3 db-3 ca DNS:db-3.example clientAuth expired
for c in server server2 db1 db2; do
    openssl verify -CAfile "$PKI/ca.crt" "$PKI/$c.crt" >/dev/null || fail "$c.crt does not verify"
    openssl x509 -in "$PKI/$c.crt" -noout -checkend 3600 >/dev/null || fail "$c.crt expires"
done
for c in server-expired db3; do
    ! openssl x509 -in "$PKI/$c.crt" -noout -checkend 0 >/dev/null || fail "$c.crt is not expired"
    run 2 openssl verify -CAfile "$PKI/ca.crt" "$PKI/$c.crt"
    contains "$OUT$ERR" "certificate has expired" "$c.crt"
done
! openssl verify -CAfile "$PKI/ca.crt" "$PKI/rogue.crt" >/dev/null 2>&1 || fail "rogue.crt verifies"
contains "$(openssl x509 -in "$PKI/server.crt" -noout -ext subjectAltName)" \
    "DNS:localhost, IP Address:127\.0\.0\.1" "server.crt's SAN"
pass "certificates made: CA, server (DNS:localhost, IP:127.0.0.1), db-1, db-2, db-1 from a" \
    "second CA (does not verify), db-3 and a server certificate expired (checkend 0)"

# --- helpers ---

# tls_counts HTTP: the handshake counters of that oracled, "REASON=N" words in REASONS order.
tls_counts() {
    local m r v line=""
    m=$(curl -s "http://127.0.0.1:$1/metrics" || true)
    for r in "${REASONS[@]}"; do
        v=$(awk -v n="oracled_tls_handshakes_total{result=\"$r\"}" '$1 == n {print $2}' <<<"$m")
        line+="$r=${v:-?} "
    done
    echo "$line"
}

# snap HTTP: remembers the counters now, for expect_counts.
snap() {
    SNAP=$(tls_counts "$1")
}

# counts_are HTTP LINE: the counters are exactly LINE.
counts_are() {
    [ "$(tls_counts "$1")" = "$2" ]
}

# expect_counts HTTP WHAT REASON=N...: until the counters are those of the last snap plus N
# for each REASON named, every other one unchanged; fails with both lines after 5 s.
expect_counts() {
    local http=$1 what=$2 want="" r w d add
    shift 2
    for w in $SNAP; do
        r=${w%%=*}
        add=0
        for d in "$@"; do
            [ "${d%%=*}" = "$r" ] && add=${d#*=}
        done
        want+="$r=$((${w#*=} + add)) "
    done
    local deadline=$((SECONDS + 5))
    until counts_are "$http" "$want"; do
        [ $SECONDS -lt $deadline ] ||
            fail "$what: handshake counters are '$(tls_counts "$http")', expected '$want'"
        sleep 0.05
    done
}

# s_client PORT [OPTIONS]: openssl s_client to 127.0.0.1:PORT checking the server's certificate
# against the CA and its IP address, stdin closed; sets OUT and ERR (any exit status).
s_client() {
    local port=$1
    shift
    local rc=0
    openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI/ca.crt" -verify_return_error \
        -verify_ip 127.0.0.1 "$@" </dev/null >"$TMP/out" 2>"$TMP/err" || rc=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    SRC=$rc
}

# split_frames FILE PREFIX: splits FILE, varint-length-prefixed messages, into PREFIX.1, .2 ...;
# prints how many. Fails on a truncated frame.
split_frames() {
    local -a b
    read -r -a b <<<"$(od -An -v -tu1 "$1" | tr '\n' ' ')"
    local i=0 n=0 len sh byte
    while [ $i -lt ${#b[@]} ]; do
        len=0 sh=0
        while :; do
            [ $i -lt ${#b[@]} ] || fail "$1: a length cut short"
            byte=${b[i]}
            i=$((i + 1))
            len=$((len | (byte & 127) << sh))
            sh=$((sh + 7))
            [ "$byte" -ge 128 ] || break
        done
        [ $((i + len)) -le ${#b[@]} ] || fail "$1: a frame of $len bytes cut short"
        n=$((n + 1))
        tail -c +$((i + 1)) "$1" | head -c "$len" >"$2.$n"
        i=$((i + len))
    done
    echo "$n"
}

# frame TEXT: the oracle Request in protobuf text format TEXT, encoded by protoc and prefixed
# with its length (one varint byte: these are short).
frame() {
    local f=$TMP/req.bin
    protoc --encode=oracle.v1.Request -I "$PROTO" "$PROTO/oracle.proto" <<<"$1" >"$f" ||
        fail "protoc cannot encode $1"
    local n
    n=$(stat -c %s "$f")
    [ "$n" -lt 128 ] || fail "a request of $n bytes"
    # shellcheck disable=SC2059 # the format is the length byte's escape
    printf "\\x$(printf %02x "$n")"
    cat "$f"
}

# field TEXT NAME: the value of the first "NAME: value" line in protoc's text output.
field() {
    awk -v n="$2:" '$1 == n {print $2; exit}' <<<"$1"
}

# ts_served CMD...: runs an oracle-cli --json command until it succeeds, retrying only NOT_READY
# for the state file (the next high-water mark not on disk yet: a slow fsync on a busy machine,
# nothing to do with TLS) for up to 5 s; any other failure fails at once. Sets OUT and ERR as run
# does, and TRIES to the number of attempts (TLS handshakes).
ts_served() {
    local deadline=$((SECONDS + 5)) rc
    TRIES=0
    while :; do
        rc=0
        TRIES=$((TRIES + 1))
        "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
        OUT=$(cat "$TMP/out")
        ERR=$(cat "$TMP/err")
        [ "$rc" = 0 ] && return 0
        if ! grep -q '"code":"NOT_READY","message":"[^"]*waiting for the state file' <<<"$OUT" ||
            [ $SECONDS -ge "$deadline" ]; then
            echo "command: $*" >&2
            echo "stdout: $OUT" >&2
            echo "stderr: $ERR" >&2
            fail "exit status $rc"
        fi
        sleep 0.05
    done
}

# millis CMD...: runs CMD (run 0), setting MS to how long it took, in ms.
millis() {
    local t0
    t0=$(now_ns)
    run 0 "$@"
    MS=$((($(now_ns) - t0) / 1000000))
}

MTLS_FILES=(--tls-ca "$PKI/ca.crt" --tls-cert "$PKI/db1.crt" --tls-key "$PKI/db1.key")

start_fake_chrony fake "$FAKE"

# --- 1. mutual TLS on --tls-listen beside a plaintext --listen ---

SRV=$TMP/srv
mkdir -p "$SRV"
cp "$PKI/server.crt" "$SRV/cert.pem"
cp "$PKI/server.key" "$SRV/key.pem"
start_oracled_on "$ORACLED" mtls "$FAKE_PORT" --tls-cert "$SRV/cert.pem" --tls-key "$SRV/key.pem" \
    --tls-ca "$PKI/ca.crt" --tls-listen 127.0.0.1:0
wait_for_log "$LOG" "$PID" "listening on 127\.0\.0\.1:[0-9]+ \(oracle protocol over TLS\)" 10
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
PLAIN=$(bound_port "$LOG" 'oracle protocol\)')
TLSP=$(bound_port "$LOG" 'oracle protocol over TLS\)')
A_PID=$PID A_HTTP=$HTTP A_LOG=$LOG
[ "$PLAIN" != "$TLSP" ] || fail "one port for both"
grep -qE "TLS: certificate $SRV/cert\.pem \(valid until [0-9T:.-]+Z\); client certificates required$" \
    "$A_LOG" || fail "the certificate is not logged: $(grep TLS "$A_LOG")"
pass "oracled with --tls-ca and --tls-listen: plaintext on :$PLAIN, TLS on :$TLSP, the" \
    "certificate logged"

snap "$A_HTTP"
ts_served "$CLI" -s "127.0.0.1:$TLSP" "${MTLS_FILES[@]}" --json ts
json_is "$OUT" .count 1 "mutual TLS: ts"
json_int "$OUT" first_ns >/dev/null
tries=$TRIES
ts_served "$CLI" -s "127.0.0.1:$TLSP" "${MTLS_FILES[@]}" --json --count 5 --wait ts
tries=$((tries + TRIES))
json_is "$OUT" .count 5 "mutual TLS: --count 5 --wait ts"
json_is "$OUT" .commit_wait true "mutual TLS: --count 5 --wait ts"
first=$(json_int "$OUT" first_ns)
last=$(json_int "$OUT" last_ns)
earliest=$(json_int "$OUT" earliest_ns)
[[ $((last - first)) = 4 && $earliest -gt $last ]] ||
    fail "commit-wait over TLS: first $first last $last earliest $earliest"
expect_counts "$A_HTTP" "mutual TLS clients" ok=$tries
pass "mutual TLS: oracle-cli with db-1's certificate gets a timestamp, and 5 commit-waited" \
    "(earliest $((earliest - last)) ns past the last); $tries handshakes counted ok"

snap "$A_HTTP"
s_client "$TLSP" -cert "$PKI/db1.crt" -key "$PKI/db1.key"
[ "$SRC" = 0 ] || fail "s_client: exit $SRC: $ERR"
contains "$OUT" "^Verification: OK$" "s_client: server certificate"
contains "$OUT" "^New, TLSv1\.3, Cipher is " "s_client: version"
contains "$OUT" "^subject=CN = oracled$" "s_client: server certificate"
expect_counts "$A_HTTP" "s_client" ok=1
pass "openssl s_client with db-1's certificate: server verified (CN=oracled, IP 127.0.0.1)," \
    "TLS 1.3, counted ok"

# Two oracle requests through s_client, pipelined: Now and a commit-waited GetTimestamp.
{
    frame 'id: 7 now {}'
    frame 'id: 8 get_timestamp { count: 3 commit_wait: true }'
} >"$TMP/requests.bin"
t0=$(now_ns)
(
    cat "$TMP/requests.bin"
    sleep 1
) | openssl s_client -quiet -no_ign_eof -connect "127.0.0.1:$TLSP" -CAfile "$PKI/ca.crt" \
    -verify_return_error -verify_ip 127.0.0.1 -cert "$PKI/db1.crt" -key "$PKI/db1.key" \
    >"$TMP/replies.bin" 2>"$TMP/replies.err" || fail "s_client -quiet: $(cat "$TMP/replies.err")"
t1=$(now_ns)
n=$(split_frames "$TMP/replies.bin" "$TMP/reply")
[ "$n" = 2 ] || fail "s_client: $n responses to 2 requests: $(od -An -tx1 "$TMP/replies.bin")"
NOWR="" TSR=""
for i in 1 2; do
    r=$(protoc --decode=oracle.v1.Response -I "$PROTO" "$PROTO/oracle.proto" <"$TMP/reply.$i") ||
        fail "response $i does not decode: $(od -An -tx1 "$TMP/reply.$i")"
    case $(field "$r" id) in
    7) NOWR=$r ;;
    8) TSR=$r ;;
    *) fail "a response with an id not asked for: $r" ;;
    esac
done
[[ -n $NOWR && -n $TSR ]] || fail "responses: $NOWR / $TSR"
for r in "$NOWR" "$TSR"; do
    [ "$(field "$r" clock_status)" = CLOCK_STATUS_SYNCHRONIZED ] || fail "clock status: $r"
done
e=$(field "$NOWR" earliest_ns)
l=$(field "$NOWR" latest_ns)
[[ -n $e && -n $l && $e -le $l ]] || fail "Now: no bounds: $NOWR"
[[ $e -le $t1 && $l -ge $t0 ]] || fail "Now: [$e, $l] is not around [$t0, $t1]"
f=$(field "$TSR" first_ns)
[ "$(field "$TSR" count)" = 3 ] || fail "GetTimestamp: count: $TSR"
[ "$(field "$TSR" earliest_ns)" -gt $((f + 2)) ] || fail "GetTimestamp: not commit-waited: $TSR"
pass "openssl s_client carries two oracle Requests made by protoc (Now, GetTimestamp count 3" \
    "commit-wait): both Responses decode, SYNCHRONIZED, the bounds around the test's clock," \
    "the batch certainly past"

# --- 2. refusals on the mutual TLS port, each counted once under its reason and logged ---

# refused_log REASON PATTERN: a refusal line with that reason, matching PATTERN after it.
refused_log() {
    wait_for_log "$A_LOG" "$A_PID" \
        "warn: conn 127\.0\.0\.1:[0-9]+: TLS handshake refused \($1\): $2" 5
}

snap "$A_HTTP"
run 2 "$CLI" -s "127.0.0.1:$TLSP" --tls-ca "$PKI/ca.crt" ts
contains "$ERR" "TLS session refused: .*certificate required: the server requires a client" \
    "no client certificate"
expect_counts "$A_HTTP" "no client certificate" no_cert=1
refused_log no_cert "peer did not return a certificate"
pass "no client certificate: oracle-cli exits 2 (certificate required), counted no_cert, logged"

snap "$A_HTTP"
run 2 "$CLI" -s "127.0.0.1:$TLSP" --tls-ca "$PKI/ca.crt" --tls-cert "$PKI/rogue.crt" \
    --tls-key "$PKI/rogue.key" ts
contains "$ERR" "TLS session refused: .*unknown ca" "a certificate from another CA"
expect_counts "$A_HTTP" "a certificate from another CA" untrusted=1
refused_log untrusted "certificate verify failed: .*\(client certificate CN=db-1"
pass "db-1's name on another CA's certificate: oracle-cli exits 2 ($(head -c 100 <<<"$ERR")...)," \
    "counted untrusted, logged with the certificate's name"

snap "$A_HTTP"
run 2 "$CLI" -s "127.0.0.1:$TLSP" --tls-ca "$PKI/ca.crt" --tls-cert "$PKI/db3.crt" \
    --tls-key "$PKI/db3.key" ts
contains "$ERR" "the server says the client certificate has expired" "an expired certificate"
expect_counts "$A_HTTP" "an expired client certificate" expired=1
# The same with --json: a refused certificate is the client's settings, not retriable.
run 2 "$CLI" -s "127.0.0.1:$TLSP" --tls-ca "$PKI/ca.crt" --tls-cert "$PKI/db3.crt" \
    --tls-key "$PKI/db3.key" --json ts
json_is "$OUT" .error.retriable false "an expired client certificate"
json_is "$OUT" .error.code CONNECT "an expired client certificate"
refused_log expired "certificate verify failed: certificate has expired \(client certificate CN=db-3"
pass "an expired client certificate: oracle-cli exits 2 (the server says it has expired; not" \
    "retriable), counted expired, logged"

snap "$A_HTTP"
s_client "$TLSP" -tls1_2 -cert "$PKI/db1.crt" -key "$PKI/db1.key"
[ "$SRC" != 0 ] || fail "s_client -tls1_2 connected: $OUT"
contains "$ERR" "alert protocol version" "s_client -tls1_2"
expect_counts "$A_HTTP" "a TLS 1.2 client" protocol=1
refused_log protocol "unsupported protocol"
pass "a TLS 1.2 client (s_client -tls1_2) under the default minimum 1.3: protocol version" \
    "alert, counted protocol, logged"

snap "$A_HTTP"
run 2 "$CLI" -s "127.0.0.1:$TLSP" ts
contains "$ERR" "BAD_REQUEST: .*this address speaks TLS: connect with TLS" "plaintext at TLS"
contains "$ERR" "hint: connect with --tls-ca FILE" "the hint for plaintext at TLS"
expect_counts "$A_HTTP" "a plaintext client" protocol=1
refused_log protocol "the client does not speak TLS"
pass "a plaintext oracle-cli at the TLS port: exit 2, told in a plain BAD_REQUEST that the" \
    "address speaks TLS, counted protocol, logged"

snap "$A_HTTP"
run 2 "$CLI" -s "127.0.0.1:$PLAIN" "${MTLS_FILES[@]}" ts
contains "$ERR" "TLS handshake failed: wrong version number: is TLS on at that address" \
    "TLS at plaintext"
ts_served "$CLI" -s "127.0.0.1:$PLAIN" --json ts
json_int "$OUT" first_ns >/dev/null
expect_counts "$A_HTTP" "the plaintext port"
pass "the plaintext --listen beside it: a TLS oracle-cli exits 2 (is TLS on at that address?)," \
    "a plaintext one is served; no TLS handshake counted"

snap "$A_HTTP"
run 2 "$CLI" -s "127.0.0.1:$TLSP" "${MTLS_FILES[@]}" --tls-server-name db.example --json ts
contains "$OUT" "certificate verify failed: hostname mismatch" "--tls-server-name"
json_is "$OUT" .error.retriable false "a refused certificate: the settings, not retriable"
# The client refused the server: oracled counts that apart (peer_alert), not as its own refusal.
expect_counts "$A_HTTP" "a client refusing the server's certificate" peer_alert=1
pass "oracle-cli --tls-server-name db.example (the certificate has localhost, 127.0.0.1):" \
    "hostname mismatch, exit 2, not retriable; oracled counts a peer_alert"

# --- 3. /metrics and /healthz ---

run 0 curl -sf "http://127.0.0.1:$A_HTTP/metrics"
contains "$OUT" \
    '^oracled_tls_info\{records="userspace",ktls="unavailable",client_certificates="required"\} 1$' \
    "/metrics"
EXP1=$(not_after "$PKI/server.crt")
contains "$OUT" "^oracled_tls_certificate_expiry_timestamp_seconds $EXP1$" "/metrics: expiry"
contains "$OUT" '^oracled_tls_reloads_total\{result="ok"\} 0$' "/metrics: reloads"
contains "$OUT" '^oracled_tls_reloads_total\{result="failed"\} 0$' "/metrics: reloads"
run 0 curl -s "http://127.0.0.1:$A_HTTP/healthz"
json_is "$OUT" .tls.records userspace "/healthz"
json_is "$OUT" .tls.ktls unavailable "/healthz"
json_is "$OUT" .tls.client_certificates required "/healthz"
json_is "$OUT" .tls.allow_list 0 "/healthz"
json_is "$OUT" .tls.reload_failures 0 "/healthz"
json_is "$OUT" .tls.certificate_expires "$(date -u -d "@$EXP1" +%Y-%m-%dT%H:%M:%S.000000000Z)" \
    "/healthz"
pass "/metrics: oracled_tls_info (userspace, ktls unavailable, client certificates required)," \
    "the certificate's expiry ($EXP1), no reloads; /healthz: tls says the same"

# --- 4. SIGHUP, under load ---

# A long-lived client polling every 100 ms, and new clients one after another, across every
# reread below. A new client answered NOT_READY because the next high-water mark is not on disk
# yet (a slow fsync on a busy machine: nothing to do with TLS, and retriable) was served over
# TLS all the same: counted apart; any other failure is one.
"$CLI" -s "127.0.0.1:$TLSP" "${MTLS_FILES[@]}" watch --interval 100ms --count 600 \
    >"$TMP/watch.out" 2>"$TMP/watch.err" &
WATCH_PID=$!
track_pid $WATCH_PID
(
    ok=0 failed=0 not_ready=0
    while [ ! -e "$TMP/stop-loop" ]; do
        if "$CLI" -s "127.0.0.1:$TLSP" "${MTLS_FILES[@]}" --json ts >"$TMP/loop.one" 2>&1; then
            ok=$((ok + 1))
        elif grep -q '"code":"NOT_READY","message":"[^"]*waiting for the state file' \
            "$TMP/loop.one"; then
            not_ready=$((not_ready + 1))
        else
            failed=$((failed + 1))
            cat "$TMP/loop.one" >>"$TMP/loop.err"
        fi
    done
    echo "$ok $failed $not_ready" >"$TMP/loop.result"
) &
LOOP_PID=$!
track_pid $LOOP_PID
wait_until 5 "watch polls" grep -q SYNCHRONIZED "$TMP/watch.out"
# watch_conn: the local address of watch's connection to the TLS port.
watch_conn() {
    ss -Htnp state established "( dport = :$TLSP )" | grep "pid=$WATCH_PID," | awk '{print $3}'
}
WCONN=$(watch_conn)
[[ -n $WCONN && $(wc -l <<<"$WCONN") = 1 ]] || fail "watch's connection: '$WCONN'"

# reread_refused N WHAT PATTERN: SIGHUP; the reread is refused (the N-th time), logged with
# PATTERN, and new clients still get the first certificate.
reread_refused() {
    kill -HUP "$A_PID"
    wait_metric "$A_HTTP" 'oracled_tls_reloads_total{result="failed"}' -eq "$1" 5
    wait_for_log "$A_LOG" "$A_PID" \
        "error: TLS: SIGHUP: $3; still using the certificate loaded before" 5
    [ "$(metric "$A_HTTP" 'oracled_tls_reloads_total{result="ok"}')" = 0 ] || fail "$2: reread ok"
    s_client "$TLSP" -cert "$PKI/db1.crt" -key "$PKI/db1.key"
    [ "$SRC" = 0 ] || fail "$2: s_client: $ERR"
    contains "$OUT" "^subject=CN = oracled$" "$2: s_client after the refused reread"
    contains "$OUT" "^Verification: OK$" "$2: s_client after the refused reread"
    run 0 "$CLI" -s "127.0.0.1:$TLSP" "${MTLS_FILES[@]}" now
    [ "$(metric "$A_HTTP" oracled_tls_certificate_expiry_timestamp_seconds)" = "$EXP1" ] ||
        fail "$2: the expiry in /metrics changed"
    pass "SIGHUP with $2: refused (reloads failed $1), logged, new clients still get CN=oracled"
}

cp "$PKI/server2.key" "$SRV/key.pem.new"
mv "$SRV/key.pem.new" "$SRV/key.pem"
reread_refused 1 "a key that is not the certificate's" \
    "the key $SRV/key\.pem does not belong to the certificate $SRV/cert\.pem"

echo "not a certificate" >"$SRV/cert.pem.new"
mv "$SRV/cert.pem.new" "$SRV/cert.pem"
cp "$PKI/server.key" "$SRV/key.pem"
reread_refused 2 "a garbage certificate" "cannot use the certificate $SRV/cert\.pem: .+"

cp "$PKI/server-expired.crt" "$SRV/cert.pem"
cp "$PKI/server-expired.key" "$SRV/key.pem"
reread_refused 3 "an expired certificate (and its key)" \
    "the certificate $SRV/cert\.pem is expired since 2020-01-02.*"

cp "$PKI/server2.key" "$SRV/key.pem.new"
cp "$PKI/server2.crt" "$SRV/cert.pem.new"
mv "$SRV/key.pem.new" "$SRV/key.pem"
mv "$SRV/cert.pem.new" "$SRV/cert.pem"
kill -HUP "$A_PID"
wait_metric "$A_HTTP" 'oracled_tls_reloads_total{result="ok"}' -eq 1 5
wait_for_log "$A_LOG" "$A_PID" \
    "info: TLS: SIGHUP: reread $SRV/cert\.pem \(valid until [0-9T:.-]+Z\); client certificates required" 5
[ "$(metric "$A_HTTP" 'oracled_tls_reloads_total{result="failed"}')" = 3 ] || fail "failed count"
s_client "$TLSP" -cert "$PKI/db1.crt" -key "$PKI/db1.key"
[ "$SRC" = 0 ] || fail "new certificate: s_client: $ERR"
contains "$OUT" "^subject=CN = oracled-2$" "s_client after the reread"
contains "$OUT" "^Verification: OK$" "s_client after the reread"
EXP2=$(not_after "$PKI/server2.crt")
[ "$EXP2" != "$EXP1" ] || fail "the two certificates expire at the same second"
[ "$(metric "$A_HTTP" oracled_tls_certificate_expiry_timestamp_seconds)" = "$EXP2" ] ||
    fail "the expiry in /metrics is not the new certificate's"
run 0 curl -s "http://127.0.0.1:$A_HTTP/healthz"
json_is "$OUT" .tls.reload_failures 3 "/healthz after the rereads"
json_is "$OUT" .tls.certificate_expires "$(date -u -d "@$EXP2" +%Y-%m-%dT%H:%M:%S.000000000Z)" \
    "/healthz after the reread"
pass "SIGHUP with a new certificate (CN=oracled-2) and its key: reloads ok 1, logged, new" \
    "clients see CN=oracled-2, the expiry in /metrics and /healthz is the new one's"

kill -0 "$WATCH_PID" 2>/dev/null || fail "watch ended before the rereads were over"
# Three more polls after the last reread, and 3 s of them in all (30), then Ctrl-C: watch ends
# after the current line.
more=$(($(wc -l <"$TMP/watch.out") + 3))
[ "$more" -ge 30 ] || more=30
wait_until 5 "watch polls after the rereads" awk -v n="$more" 'END { exit !(NR >= n) }' \
    "$TMP/watch.out"
[ "$(watch_conn)" = "$WCONN" ] || fail "watch's connection changed: $WCONN, now '$(watch_conn)'"
kill -INT "$WATCH_PID"
touch "$TMP/stop-loop"
wait "$LOOP_PID" || fail "the client loop: exit $?"
read -r loop_ok loop_failed loop_not_ready <"$TMP/loop.result"
if [ "$loop_not_ready" != 0 ]; then
    echo "# $loop_not_ready new clients answered NOT_READY (the state file); its writes so far:" \
        "$(curl -s "http://127.0.0.1:$A_HTTP/metrics" |
            grep -E '^oracled_state_write_seconds_(sum|count)' | tr '\n' ' ')"
fi
[ "$loop_failed" = 0 ] || fail "$loop_failed of $((loop_ok + loop_failed)) new clients failed" \
    "across the rereads: $(sed -E 's/:[0-9]+/:PORT/g' "$TMP/loop.err" | sort | uniq -c)"
[ "$loop_ok" -ge 10 ] || fail "only $loop_ok new clients across the rereads"
rc=0
wait "$WATCH_PID" || rc=$?
[ "$rc" = 0 ] ||
    fail "watch exited $rc: $(grep -v SYNCHRONIZED "$TMP/watch.out") $(cat "$TMP/watch.err")"
polls=$(wc -l <"$TMP/watch.out")
[[ $(grep -c "SYNCHRONIZED" "$TMP/watch.out") = "$polls" && $polls -ge 30 ]] ||
    fail "watch: $polls polls: $(grep -v SYNCHRONIZED "$TMP/watch.out")"
pass "across 4 SIGHUPs: oracle-cli watch answered all $polls polls on one connection ($WCONN)," \
    "exit 0; $loop_ok new TLS clients one after another served, none failed ($loop_not_ready" \
    "answered NOT_READY: the state file)"

kill -TERM "$A_PID"
wait "$A_PID" || fail "oracled (mutual TLS) exited $?"

# --- 5. the allow-list, with TLS on every --listen ---

start_oracled_on "$ORACLED" allow "$FAKE_PORT" --tls-cert "$PKI/server.crt" \
    --tls-key "$PKI/server.key" --tls-ca "$PKI/ca.crt" --tls-allow-client CN=db-1
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
grep -q "listening on 127\.0\.0\.1:$PORT (oracle protocol over TLS)" "$LOG" ||
    fail "--listen does not speak TLS: $(grep listening "$LOG")"
grep -q "client certificates required, from the allow-list" "$LOG" || fail "allow-list not logged"
snap "$HTTP"
ts_served "$CLI" -s "127.0.0.1:$PORT" "${MTLS_FILES[@]}" --json ts
expect_counts "$HTTP" "db-1 on the allow-list" ok="$TRIES"
snap "$HTTP"
run 2 "$CLI" -s "127.0.0.1:$PORT" --tls-ca "$PKI/ca.crt" --tls-cert "$PKI/db2.crt" \
    --tls-key "$PKI/db2.key" ts
contains "$ERR" "TLS session (refused|failed): " "db-2, not on the allow-list"
expect_counts "$HTTP" "db-2, not on the allow-list" not_allowed=1
wait_for_log "$LOG" "$PID" \
    "warn: conn 127\.0\.0\.1:[0-9]+: TLS handshake refused \(not_allowed\): .*\(client certificate CN=db-2" 5
run 0 curl -s "http://127.0.0.1:$HTTP/healthz"
json_is "$OUT" .tls.allow_list 1 "/healthz with --tls-allow-client"
pass "--tls-allow-client CN=db-1 (TLS on --listen): db-1 served; db-2, signed by the same CA," \
    "refused (exit 2), counted not_allowed, logged with CN=db-2"
kill -TERM "$PID"
wait "$PID" || fail "oracled (allow-list) exited $?"

# --- 6. a handshake dribbled one byte a second ---

TIMEOUT_S=3
start_oracled_on "$ORACLED" dribble "$FAKE_PORT" --tls-cert "$PKI/server.crt" \
    --tls-key "$PKI/server.key" --tls-handshake-timeout "${TIMEOUT_S}s"
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
run 0 curl -sf "http://127.0.0.1:$HTTP/metrics"
contains "$OUT" \
    '^oracled_tls_info\{records="userspace",ktls="unavailable",client_certificates="not_asked"\} 1$' \
    "/metrics without --tls-ca"
snap "$HTTP"
python3 "$DRIBBLE" 127.0.0.1 "$PORT" 10 >"$TMP/dribble.out" 2>"$TMP/dribble.err" &
DRIBBLE_PID=$!
track_pid $DRIBBLE_PID
wait_until 5 "the dribbler connects" grep -q '^port ' "$TMP/dribble.out"
DPORT=$(awk '/^port /{print $2}' "$TMP/dribble.out")
dribble_start=$(now_ns)
worst=0 served=0
# Clients while it dribbles, up to a little before the timeout.
while [ $(($(now_ns) - dribble_start)) -lt $(((TIMEOUT_S * 1000 - 600) * 1000000)) ]; do
    millis "$CLI" -s "127.0.0.1:$PORT" --tls-ca "$PKI/ca.crt" now
    contains "$OUT" "SYNCHRONIZED" "a TLS client while the dribbler dribbles"
    served=$((served + 1))
    [ "$MS" -le "$worst" ] || worst=$MS
    sleep 0.2
done
kill -0 "$DRIBBLE_PID" 2>/dev/null || fail "the dribbler ended early: $(cat "$TMP/dribble.out")"
[ "$(metric "$HTTP" 'oracled_tls_handshakes_total{result="timeout"}')" = 0 ] ||
    fail "a timeout counted before the timeout"
[[ $served -ge 5 && $worst -lt 1000 ]] ||
    fail "while a handshake dribbled: $served clients served, the slowest in $worst ms"
pass "while a ClientHello is dribbled one byte a second: $served TLS clients served, the" \
    "slowest in $worst ms (oracle-cli, handshake included)"

rc=0
wait "$DRIBBLE_PID" || rc=$?
result=$(tail -n 1 "$TMP/dribble.out")
[ "$rc" = 0 ] || fail "the dribbler: exit $rc: $result $(cat "$TMP/dribble.err")"
took=$(awk '/^closed after/ {print $3}' <<<"$result")
awk -v t="$took" -v lim="$TIMEOUT_S" 'BEGIN { exit !(t >= lim - 0.5 && t <= lim + 2) }' ||
    fail "the dribbler was closed after $took s, --tls-handshake-timeout ${TIMEOUT_S}s"
expect_counts "$HTTP" "the dribbler" ok="$served" timeout=1
wait_for_log "$LOG" "$PID" \
    "warn: conn 127\.0\.0\.1:$DPORT: TLS handshake refused \(timeout\): the handshake did not finish in time" 2
pass "the dribbler ($result) closed by --tls-handshake-timeout ${TIMEOUT_S}s, counted" \
    "timeout once, logged with its port"
kill -TERM "$PID"
wait "$PID" || fail "oracled (dribble) exited $?"

echo "it_tls: $CHECKS checks passed"
