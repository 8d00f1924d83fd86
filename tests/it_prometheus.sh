#!/usr/bin/env bash
# Integration: deploy/prometheus/ against Debian's Prometheus. promtool checks the scrape config
# (and its commented EC2 alternative) and the alerting rules and runs the rules' unit tests. Then
# a real Prometheus server, configured from a copy of the shipped prometheus.yml (same rules
# file; 1 s intervals; the target a live oracled fed by fake-chrony), must find every series
# oracled exports and every series the rules select, load every alert healthy, fire none but
# the one a demo time source calls for, and see chronyd's loss: the clock-not-trusted and
# chrony-not-answering alerts go pending once fake-chrony is stopped.
# Usage: it_prometheus.sh ORACLED FAKE_CHRONY ORACLE_CLI DEPLOY_PROMETHEUS_DIR
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
CLI=$3
DIR=$(cd "$4" && pwd)
SHIPPED=$DIR/prometheus.yml
RULES=$DIR/oracled-rules.yml
RULE_TESTS=$DIR/oracled-rules.test.yml

for tool in promtool prometheus curl jq python3; do
    if ! command -v $tool >/dev/null; then
        echo "SKIP: $tool not installed (dev/install-deps --test)"
        exit 77
    fi
done
prometheus --version 2>&1 | head -n 1 | sed 's/^/# /'

# --- promtool: the files as shipped ---

run 0 promtool check config "$SHIPPED"
contains "$OUT" "SUCCESS: 1 rule files found" "check config: the rules file, by relative path"
pass "promtool check config: prometheus.yml (rule_files found relative to it)"

# The commented EC2 service discovery alternative, put in place of the static job.
awk -v rules="$RULES" '
    /^  - job_name: oracled$/ { drop = 1 }
    /^  # EC2 SD BEGIN$/ { drop = 0; ec2 = 1; next }
    /^  # EC2 SD END$/ { ec2 = 0; next }
    drop { next }
    ec2 { sub(/^  # ?/, "  ") }
    /^ *- oracled-rules\.yml$/ { sub(/oracled-rules\.yml/, rules) }
    { print }' "$SHIPPED" >"$TMP/ec2.yml"
grep -q "ec2_sd_configs:" "$TMP/ec2.yml" || fail "no EC2 alternative in $SHIPPED"
run 0 promtool check config "$TMP/ec2.yml"
pass "promtool check config: the commented EC2 service discovery alternative"

run 0 promtool check rules --lint=all --lint-fatal "$RULES"
contains "$OUT" "SUCCESS: [0-9]+ rules found" "check rules"
mapfile -t ALERTS < <(sed -n 's/^ *- alert: *//p' "$RULES" | sort)
[ ${#ALERTS[@]} -ge 10 ] || fail "only ${#ALERTS[@]} alerts in $RULES"
pass "promtool check rules (lint: all): ${#ALERTS[@]} alerts"

run 0 promtool test rules "$RULE_TESTS"
contains "$OUT" "SUCCESS" "test rules"
for a in "${ALERTS[@]}"; do
    grep -q "alertname: $a\$" "$RULE_TESTS" || fail "no unit test for $a"
done
pass "promtool test rules: the unit tests pass and cover every alert"

# --- a live oracled ---

start_fake_chrony fake "$FAKE"
# TLS on a listener of its own, so that the TLS series the rules use exist; the plain --listen
# is what oracle-cli uses below.
tls_pki "$TMP/tls"
start_oracled_on "$ORACLED" oracled "$FAKE_PORT" --tls-listen 127.0.0.1:0 \
    --tls-cert "$TMP/tls/server.pem" --tls-key "$TMP/tls/server.key"
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
TARGET=127.0.0.1:$HTTP

curl -sf "http://$TARGET/metrics" >"$TMP/metrics.txt" || fail "GET /metrics"

# --- Prometheus, configured from the shipped file ---

# The shipped config with 1 s intervals, the rules by absolute path, and the first group of
# static targets replaced by this oracled (the other groups dropped).
awk -v target="$TARGET" -v rules="$RULES" '
    skip && match($0, /^ */) && RLENGTH > indent { next }
    { skip = 0 }
    /^ *(scrape_interval|evaluation_interval|scrape_timeout):/ { sub(/:.*/, ": 1s") }
    /^ *- oracled-rules\.yml$/ { sub(/oracled-rules\.yml/, rules) }
    /^ *- targets: \[.*:7601"/ {
        if (!seen) { seen = 1; sub(/\[.*\]/, "[\"" target "\"]") }
        else { match($0, /^ */); indent = RLENGTH; skip = 1; next }
    }
    { print }' "$SHIPPED" >"$TMP/prometheus.yml"
[ "$(grep -c "\"$TARGET\"" "$TMP/prometheus.yml")" = 1 ] ||
    fail "target not set: $(cat "$TMP/prometheus.yml")"
[ "$(grep -cE '^ *(scrape_interval|evaluation_interval): 1s' "$TMP/prometheus.yml")" = 2 ] ||
    fail "intervals not set: $(cat "$TMP/prometheus.yml")"
grep -q "job_name: oracled$" "$TMP/prometheus.yml" || fail "no oracled job"
run 0 promtool check config "$TMP/prometheus.yml"
pass "a test config derived from prometheus.yml: target $TARGET, 1 s intervals, same rules"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Another process may take the free port before Prometheus binds it: try again then.
PROM=
for _ in 1 2 3; do
    PROM_PORT=$(free_port)
    rm -rf "$TMP/prom"
    prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
        --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prometheus.log" 2>&1 &
    PROM_PID=$!
    track_pid $PROM_PID
    deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ] && kill -0 $PROM_PID 2>/dev/null; do
        if curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1; then
            PROM=http://127.0.0.1:$PROM_PORT
            break 2
        fi
        sleep 0.1
    done
    if kill -0 $PROM_PID 2>/dev/null; then
        fail "Prometheus not ready after 15 s: $(tail -n 20 "$TMP/prometheus.log")"
    fi
    grep -q "address already in use" "$TMP/prometheus.log" ||
        fail "Prometheus exited: $(tail -n 20 "$TMP/prometheus.log")"
done
[ -n "$PROM" ] || fail "Prometheus could not bind a port"
pass "Prometheus (pid $PROM_PID) ready on 127.0.0.1:$PROM_PORT, storage in \$TMP"

# query PROMQL: the API's JSON for an instant query, in $OUT.
query() {
    OUT=$(curl -sf -G --data-urlencode "query=$1" "$PROM/api/v1/query") || fail "query $1"
    json_is "$OUT" .status success "query $1"
}

# value PROMQL: the value of the query's first series ("" when there is none).
value() {
    query "$1"
    jq -r '.data.result[0].value[1] // ""' <<<"$OUT"
}

# wait_value PROMQL EXPECTED SECONDS: until the first series' value is EXPECTED.
wait_value() {
    local deadline=$((SECONDS + $3)) v=
    while [ $SECONDS -lt $deadline ]; do
        v=$(value "$1")
        [ "$v" = "$2" ] && return 0
        sleep 0.2
    done
    fail "$1 is '$v' after $3 s, expected $2"
}

# active_alerts: "NAME STATE" per alert pending or firing for this oracled, sorted.
active_alerts() {
    local json
    json=$(curl -sf "$PROM/api/v1/alerts") || fail "GET /api/v1/alerts"
    jq -r --arg i "$TARGET" \
        '.data.alerts[] | select(.labels.instance == $i) | "\(.labels.alertname) \(.state)"' \
        <<<"$json" | sort
}

wait_value "up{job=\"oracled\",instance=\"$TARGET\"}" 1 15
pass "up{job=\"oracled\"} is 1: Prometheus scrapes oracled's /metrics"

# A request of each kind the histograms need, then a scrape that has seen them.
run 0 "$CLI" --server "127.0.0.1:$PORT" ts
run 0 "$CLI" --server "127.0.0.1:$PORT" ts --wait
wait_value "sum(oracled_requests_total{job=\"oracled\",op=\"get_timestamp\",result=\"ok\"})" 2 10
pass "oracled_requests_total counts the two GetTimestamp requests made with oracle-cli"
wait_value "oracled_release_lateness_seconds_count{job=\"oracled\"}" 1 10
v=$(value "oracled_clock_status{job=\"oracled\",status=\"SYNCHRONIZED\"}")
[ "$v" = 1 ] || fail "oracled_clock_status{status=\"SYNCHRONIZED\"} is '$v'"
bound=$(value "oracled_clock_bound_seconds{job=\"oracled\"}")
awk -v b="$bound" 'BEGIN { exit !(b > 0 && b < 0.01) }' ||
    fail "oracled_clock_bound_seconds is '$bound'"
buckets=$(value "count(oracled_release_lateness_seconds_bucket{job=\"oracled\"})")
pass "series: oracled_clock_status{status=\"SYNCHRONIZED\"} 1, oracled_clock_bound_seconds" \
    "$bound, $buckets oracled_release_lateness_seconds_bucket series, the commit-wait counted"

# Every family /metrics has, with as many series, is in Prometheus.
grep -vE '^#' "$TMP/metrics.txt" | sed -E 's/[{ ].*//' | sort | uniq -c |
    awk '{ print $2, $1 }' >"$TMP/exported"
query '{job="oracled",__name__=~"oracled_.*"}'
jq -r '.data.result[].metric.__name__' <<<"$OUT" | sort | uniq -c | awk '{ print $2, $1 }' \
    >"$TMP/stored"
diff "$TMP/exported" "$TMP/stored" >&2 || fail "series in /metrics and in Prometheus differ"
n=$(wc -l <"$TMP/exported")
pass "all $n metric names in oracled's /metrics are in Prometheus, with as many series each"

# The rules: the group, every alert, all evaluated without error.
curl -sf "$PROM/api/v1/rules" >"$TMP/rules.json" || fail "GET /api/v1/rules"
loaded=$(jq -r '.data.groups[] | select(.name == "oracled") | .rules[] | select(.type == "alerting")
    | .name' "$TMP/rules.json" | sort)
[ "$loaded" = "$(printf '%s\n' "${ALERTS[@]}")" ] || fail "rules loaded: $loaded"
unhealthy='[.data.groups[].rules[] | select(.health != "ok")] | length'
deadline=$((SECONDS + 10))
until [ "$(jq "$unhealthy" "$TMP/rules.json")" = 0 ]; do
    [ $SECONDS -lt $deadline ] || fail "rules unhealthy: $(jq -c '.data.groups[].rules[]
        | select(.health != "ok") | {name, health, lastError}' "$TMP/rules.json")"
    sleep 0.5
    curl -sf "$PROM/api/v1/rules" >"$TMP/rules.json" || fail "GET /api/v1/rules"
done
pass "/api/v1/rules: group oracled with all ${#ALERTS[@]} alerts, every one evaluated healthy"

# The expressions as Prometheus parsed them: every metric name they use is one oracled exports
# (or up), and every selector with labels matches series of the live oracled: names and label
# values are real, not guessed.
jq -r '.data.groups[] | select(.name == "oracled") | .rules[].query' "$TMP/rules.json" \
    >"$TMP/queries"
mapfile -t names < <(grep -oE 'oracled_[a-z_]+' "$TMP/queries" | sort -u)
for name in "${names[@]}"; do
    grep -qE "^${name}[{ ]" "$TMP/metrics.txt" || fail "the rules use $name, which /metrics lacks"
done
mapfile -t selectors < <(grep -oE '(oracled_[a-z_]+|up)\{[^}]*\}' "$TMP/queries" | sort -u)
for sel in "${selectors[@]}"; do
    query "$sel"
    n=$(jq '.data.result | length' <<<"$OUT")
    [ "$n" -ge 1 ] || fail "the rules' $sel matches nothing"
    echo "# $sel: $n series"
done
pass "the rules use ${#names[@]} metric names, all exported; ${#selectors[@]} labelled" \
    "selectors, each matching series"

# Healthy but on a demo source (fake-chrony's reference is 127.0.0.1): that alert alone.
v=$(value "oracled_demo_time_source{job=\"oracled\"}")
[ "$v" = 1 ] || fail "oracled_demo_time_source is '$v' (fake-chrony is a loopback source)"
deadline=$((SECONDS + 10))
until grep -q "^OracledDemoTimeSource " <<<"$(active_alerts)"; do
    [ $SECONDS -lt $deadline ] || fail "no OracledDemoTimeSource alert: $(active_alerts)"
    sleep 0.2
done
sleep 2 # two more evaluations
active=$(active_alerts)
contains "$active" "^OracledDemoTimeSource (pending|firing)$" "alerts of the healthy instance"
[ "$(wc -l <<<"$active")" = 1 ] || fail "alerts besides the demo one: $active"
pass "healthy instance on a demo source: only OracledDemoTimeSource is active ($active)"

# chronyd gone: the poll age passes 2 s at once, the clock is UNKNOWN after --grace (5 s).
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null || true
deadline=$((SECONDS + 20))
while :; do
    active=$(active_alerts)
    if grep -q "^OracledClockUntrusted " <<<"$active" &&
        grep -q "^OracledChronyNotAnswering " <<<"$active"; then
        break
    fi
    [ $SECONDS -lt $deadline ] || fail "chronyd stopped 20 s ago, alerts: $active"
    sleep 0.5
done
curl -sf "$PROM/api/v1/alerts" >"$TMP/alerts.json" || fail "GET /api/v1/alerts"
jq -r --arg i "$TARGET" '.data.alerts[] | select(.labels.instance == $i)
    | "# \(.labels.alertname) \(.state) \(.labels.severity): \(.annotations.summary)"' \
    "$TMP/alerts.json"
v=$(jq -r --arg i "$TARGET" '.data.alerts[]
    | select(.labels.instance == $i and .labels.alertname == "OracledClockUntrusted")
    | "\(.labels.status) \(.labels.severity)"' "$TMP/alerts.json")
[ "$v" = "UNKNOWN critical" ] || fail "OracledClockUntrusted labels: $v"
run 0 curl -s -o /dev/null -w '%{http_code}' "http://$TARGET/healthz"
[ "$OUT" = 503 ] || fail "/healthz answered $OUT with chronyd gone"
pass "fake-chrony stopped: OracledClockUntrusted (UNKNOWN, critical) and" \
    "OracledChronyNotAnswering active"

echo "all $CHECKS checks passed"
