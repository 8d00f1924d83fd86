#!/usr/bin/env bash
# The benchmark, from a clean clone in one command: installs what it needs, builds, starts a
# DEMO chrony pair (chronyd -x, never touching the clock), oracled, redis-server (persistence
# off) and echo-server on loopback, runs every scenario with oracle-bench, stops all it started
# (by PID), and writes the results:
#   bench/results/<time>/results.jsonl   one JSON object per run
#   bench/results/<time>/table.md        the table, with ratios against Redis and echo
#   bench/results/<time>/*.png           latency CDFs and the commit-wait lateness (gnuplot)
# bench/results/ is not committed (.gitignore). With --record, the run's table goes on top of
# bench/RESULTS.md and its table and plots replace bench/latest/'s, which are.
#   bench/RESULTS.md                     the table added on top of the earlier runs
#
# Usage: bench/run.sh [--quick] [--no-record] [--server-cpu N] [--client-cpu N]
#   --quick         short runs (about 3 minutes), for a look; the full run takes about 19 minutes
#   --no-record     leave bench/RESULTS.md alone
#   --server-cpu N  the CPU oracled, redis-server and echo-server run on (default 1; 0 on a
#                   one-CPU machine)
#   --client-cpu N  the CPU oracle-bench runs on (default 0)
# Servers and the load generator are pinned (taskset, sched_setaffinity) so they do not share a
# core.
# Absolute times on shared machines drift from run to run: compare the ratios, which are
# measured in the same run, interleaved (oracled, Redis, echo, again ...), medians of 3 in the
# full run.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
quick=0
record=1
cpus=$(nproc)
server_cpu=$((cpus > 1 ? 1 : 0))
client_cpu=0
usage="usage: bench/run.sh [--quick] [--no-record] [--server-cpu N] [--client-cpu N]"
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --no-record) record=0 ;;
    --server-cpu | --client-cpu)
        if ! [[ "${2:-}" =~ ^[0-9]+$ ]] || [ "$2" -ge "$cpus" ]; then
            echo "bench/run.sh: $1 takes a CPU number below $cpus" >&2
            exit 2
        fi
        if [ "$1" = --server-cpu ]; then server_cpu=$2; else client_cpu=$2; fi
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "$usage" >&2
        exit 2
        ;;
    esac
    shift
done

if [ "$server_cpu" -eq "$client_cpu" ] && [ "$cpus" -gt 1 ]; then
    echo "bench/run.sh: note: the servers and oracle-bench share CPU $server_cpu" >&2
fi
if [ $quick -eq 1 ]; then
    duration=1s warmup=300ms reps=1 rest=3s
else
    duration=5s warmup=1s reps=3 rest=10s
fi

"$repo/dev/install-deps" --test
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
bench="$build/bench/oracle-bench"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$repo/bench/results/$stamp"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/oracle-bench.XXXXXX")

pids=()
cgroups=()
# stop PID: stops a process this script started and takes it off the list, so that nothing
# later signals whatever reuses the number.
stop() {
    local pid kept=()
    if kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    pids=("${kept[@]}")
}
cleanup() {
    local pid cg
    for pid in "${pids[@]}"; do
        stop "$pid"
    done
    for cg in "${cgroups[@]}"; do
        rmdir "$cg" 2>/dev/null || true
    done
    if [ -f "$work/chrony/env" ]; then
        "$repo/dev/demo-chrony" stop "$work/chrony" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pin=(taskset -c "$server_cpu")

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_line() {
    for _ in $(seq 1 200); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/run.sh: no /$2/ in $1:" >&2
    tail -n 20 "$1" >&2
    exit 1
}

# A port no TCP socket uses, in any state, below the kernel's ephemeral range (where the
# connections this machine opens take theirs): a port that merely refuses connections may still
# be some socket's local port, and redis-server's bind would then fail.
free_port() {
    local p low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    [ "$low" -gt 11000 ] || low=40000 # an ephemeral range reaching low: ss still checks
    for _ in $(seq 1 50); do
        p=$((10000 + RANDOM % (low - 10000)))
        if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return
        fi
    done
    echo "bench/run.sh: no free port found" >&2
    exit 1
}

echo "== starting a DEMO chrony pair, oracled, redis-server and echo-server"
"$repo/dev/demo-chrony" start "$work/chrony" >/dev/null
# shellcheck disable=SC1091
. "$work/chrony/env"

# Mutual TLS for the TLS scenarios: a CA, oracled's certificate and a client's, made here.
tls=$work/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/ca.key" \
    -out "$tls/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
for who in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$who.key" \
        -out "$tls/$who.csr" -subj "/CN=bench $who" 2>/dev/null
    echo "subjectAltName=IP:127.0.0.1" >"$tls/$who.ext"
    openssl x509 -req -in "$tls/$who.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 2 -extfile "$tls/$who.ext" -out "$tls/$who.pem" 2>/dev/null
done
tls_client=(--tls-ca "$tls/ca.pem" --tls-cert "$tls/client.pem" --tls-key "$tls/client.key")

# Plaintext on --listen, mutual TLS on --tls-listen: one oracled for both, so they meet the
# same process, the same clock, the same machine.
"${pin[@]}" "$build/oracle/oracled" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --state-dir "$work/state" --chrony "udp:127.0.0.1:$CMD_PORT" --max-wait 1s \
    --tls-listen 127.0.0.1:0 --tls-cert "$tls/server.pem" --tls-key "$tls/server.key" \
    --tls-ca "$tls/ca.pem" >"$work/oracled.log" 2>&1 &
oracled_pid=$!
pids+=("$oracled_pid")
wait_line "$work/oracled.log" "ready: serving timestamps"
oracled_port=$(grep -oE "listening on 127\.0\.0\.1:[0-9]+ \(oracle protocol\)" \
    "$work/oracled.log" | grep -oE ":[0-9]+" | tr -d :)
tls_port=$(grep -oE "listening on 127\.0\.0\.1:[0-9]+ \(oracle protocol over TLS\)" \
    "$work/oracled.log" | grep -oE ":[0-9]+" | tr -d :)
http_port=$(grep -oE "listening on 127\.0\.0\.1:[0-9]+ \(HTTP" "$work/oracled.log" |
    grep -oE ":[0-9]+" | tr -d :)

redis_port=$(free_port)
"${pin[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --protected-mode yes --daemonize no --logfile "$work/redis.log" >/dev/null 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_line "$work/redis.log" "Ready to accept connections"

"${pin[@]}" "$build/bench/echo-server" >"$work/echo.out" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")
wait_line "$work/echo.out" "listening on"
echo_port=$(grep -oE "[0-9]+$" "$work/echo.out")

redis_version=$(redis-server --version | grep -oE "v=[0-9.]+" | cut -d= -f2)
echo "oracled :$oracled_port (TLS :$tls_port, pid $oracled_pid), redis $redis_version" \
    ":$redis_port, echo :$echo_port; servers on CPU $server_cpu, load on CPU $client_cpu"
# How oracled runs TLS here (kernel TLS or userspace records), for the report.
curl -s "http://127.0.0.1:$http_port/healthz" |
    jq -c '{scenario: "tls-info", target: "oracled"} + .tls' >>"$out/results.jsonl"

# run NAME TARGET [oracle-bench options]: one run, appended to results.jsonl (a --warmup among
# the options wins over the default).
run() {
    local name=$1 target=$2 addr pid
    shift 2
    case "$target" in
    oracled) addr=127.0.0.1:$oracled_port pid=$oracled_pid ;;
    oracled-tls)
        addr=127.0.0.1:$tls_port pid=$oracled_pid target=oracled
        set -- "${tls_client[@]}" "$@"
        ;;
    redis) addr=127.0.0.1:$redis_port pid=$redis_pid ;;
    echo) addr=127.0.0.1:$echo_port pid=$echo_pid ;;
    esac
    "$bench" --cpu "$client_cpu" --target "$target" --addr "$addr" --server-pid "$pid" \
        --scenario "$name" --warmup "$warmup" "$@" >>"$out/results.jsonl"
}

# Scenarios 1-3: each target in turn, reps times, for the ratios; oracled over mutual TLS too
# (scenario 11: the same three, named s1-1x1-tls ...).
for rep in $(seq 1 $reps); do
    for t in oracled oracled-tls redis echo; do
        sfx=""
        [ $t = oracled-tls ] && sfx=-tls
        run "s1-1x1$sfx" $t --connections 1 --depth 1 --duration $duration \
            --cdf "$out/cdf-s1-$t-$rep.dat"
        run "s2-50x1$sfx" $t --connections 50 --depth 1 --duration $duration \
            --cdf "$out/cdf-s2-$t-$rep.dat"
        run "s3-50x16$sfx" $t --connections 50 --depth 16 --duration $duration \
            --cdf "$out/cdf-s3-$t-$rep.dat"
    done
done
# Scenario 4: batches of 64.
for rep in $(seq 1 $reps); do
    run s4-count64 oracled --count 64 --connections 1 --depth 1 --duration $duration
done
# Scenario 5: commit-wait with 1, 1,000 and 10,000 concurrent waiters. One waiter waits ~2x the
# bound (GetTimestamp with commit-wait, closed loop). Thousands in flight at once need longer
# waits: WaitUntil on a timestamp ahead, sent at a constant rate (open loop), so that arrivals
# are independent as a database's commits are: 10,000/s x 100 ms = 1,000 waiters, 20,000/s x
# 500 ms = 10,000.
metrics=(--metrics "127.0.0.1:$http_port")
# waiters NAME N [oracle-bench options]: the open-loop run of N waiters (1,000 or 10,000).
waiters() {
    local name=$1 n=$2 rate=10000 ahead=100ms conns=10
    shift 2
    if [ "$n" -eq 10000 ]; then rate=20000 ahead=500ms conns=100; fi
    run "$name" oracled --op wait-until --wait-ahead $ahead --rate $rate --connections $conns \
        --duration $duration --warmup 1s "${metrics[@]}" "$@"
}
for rep in $(seq 1 $reps); do
    run s5-wait-1 oracled --op ts-wait --connections 1 --depth 1 --duration $duration \
        "${metrics[@]}" --lateness-cdf "$out/late-1-$rep.dat"
    for n in 1000 10000; do
        waiters "s5-wait-$n" $n --lateness-cdf "$out/late-$n-$rep.dat" \
            --server-lateness-cdf "$out/slate-quiet-$n-$rep.dat"
    done
done
# Scenario 9: bursts. N waiters (100, 1,000, 10,000) on one timestamp 20 ms ahead, over 100
# connections, all due at the same instant; the next burst once all are answered. Reported:
# first reply to last, and the last reply after the instant the timestamp was certainly past.
for rep in $(seq 1 $reps); do
    for n in 100 1000 10000; do
        run "s9-burst-$n" oracled --burst $n --wait-ahead 20ms --connections 100 \
            --duration $duration "${metrics[@]}"
    done
done
# Scenario 10: a busy host. A CPU hog of our own (a shell loop, in a session of its own as
# another service's process would be) on the servers' CPU beside oracled, with 1,000 and 10,000
# waiters. Two CPU cgroups, oracled's and the hog's, as systemd gives two services: first of
# equal weight (any two units by default; a nice value ranks threads only within their own
# group), then oracled's at weight 10000 (the unit's CPUWeight=10000). Needs a writable cpu
# cgroup hierarchy (v1's cpu.shares or v2's cpu.weight), else skipped. The hog's CPU share is
# reported too.
cg_root="" cg_v=""
if [ -w /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.shares ]; then
    cg_root=/sys/fs/cgroup/cpu cg_v=1
elif [ -w /sys/fs/cgroup ] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    cg_root=/sys/fs/cgroup cg_v=2
fi
# cg_weight GROUP WEIGHT: systemd's CPUWeight (1-10000, default 100) on v2, or the cpu.shares it
# maps to on v1 (weight x 1024 / 100).
cg_weight() {
    if [ "$cg_v" = 1 ]; then echo $(($2 * 1024 / 100)) >"$1/cpu.shares"; else echo "$2" >"$1/cpu.weight"; fi
}
cg_server=$cg_root/oracle-bench-$$-server cg_hog=$cg_root/oracle-bench-$$-hog
cgroups+=("$cg_server" "$cg_hog") # (cleanup removes whichever were made)
if [ -n "$cg_root" ] && mkdir "$cg_server" "$cg_hog" 2>/dev/null; then
    # Where oracled is now (v1: the line naming the cpu controller; v2: the unified line).
    if [ "$cg_v" = 1 ]; then
        oracled_cg=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3; exit }' "/proc/$oracled_pid/cgroup")
    else
        oracled_cg=$(awk -F: '$1 == "0" { print $3; exit }' "/proc/$oracled_pid/cgroup")
    fi
    setsid "${pin[@]}" bash -c 'while :; do :; done' &
    hog_pid=$!
    pids+=("$hog_pid")
    echo "$hog_pid" >"$cg_hog/cgroup.procs"
    echo "$oracled_pid" >"$cg_server/cgroup.procs"
    for rep in $(seq 1 $reps); do
        for weight in 100 10000; do
            cg_weight "$cg_server" $weight
            for n in 1000 10000; do
                waiters "s10-hog-weight$weight-$n" $n --competitor-pid "$hog_pid" \
                    --server-lateness-cdf "$out/slate-hog-weight$weight-$n-$rep.dat"
            done
        done
    done
    # oracled back where it was for the scenarios after this one.
    echo "$oracled_pid" >"$cg_root${oracled_cg:-}/cgroup.procs" 2>/dev/null ||
        echo "$oracled_pid" >"$cg_root/cgroup.procs" || true
    stop "$hog_pid"
else
    echo "bench/run.sh: no writable cpu cgroup hierarchy (needs root): scenario 10 skipped" >&2
fi
# Scenario 8: liboracle-client under many callers (issue 19): one shared client (batching), a
# blocking client per thread (one request per call), and one loop with N calls outstanding;
# 1, 8, 64 and 512 callers; plain timestamps and commit-waited ones. Interleaved per caller
# count, so the three ways meet the same machine; medians of the repetitions.
for rep in $(seq 1 $reps); do
    for n in 1 8 64 512; do
        for op in ts ts-wait; do
            for mode in shared per-thread async; do
                run "s8-$mode-$op-$n" oracled --client "$mode" --threads "$n" --op "$op" \
                    --duration $duration
            done
        done
    done
done
# Scenario 6: 10,000 idle connections. Scenario 7: the server at rest.
run s6-idle-10000 oracled --idle 10000
sleep 1
"$bench" --cpu "$client_cpu" --rest "$rest" --server-pid "$oracled_pid" --scenario s7-rest \
    >>"$out/results.jsonl"

echo "== results in $out"
"$repo/bench/report.sh" "$out" "$cpus" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- |
    sed 's/^ //')" "bench/run.sh${args[*]:+ ${args[*]}}" "$redis_version" \
    "Servers pinned to CPU $server_cpu, oracle-bench to CPU $client_cpu" >"$out/table.md"
cat "$out/table.md"
"$repo/bench/plot.sh" "$out" || echo "(no plots: $?)"
if [ $record -eq 1 ]; then
    results="$repo/bench/RESULTS.md"
    marker="<!-- runs, newest first -->"
    if [ ! -f "$results" ] || ! grep -qF "$marker" "$results"; then
        printf '# oracle-bench results\n\n%s\n' "$marker" >"$results"
    fi
    {
        sed "/$marker/q" "$results"
        echo
        cat "$out/table.md"
        sed "1,/$marker/d" "$results"
    } >"$work/RESULTS.md"
    cp "$work/RESULTS.md" "$results"
    rm -f "$repo"/bench/latest/*.png
    mkdir -p "$repo/bench/latest"
    cp "$out/table.md" "$out"/*.png "$repo/bench/latest/" 2>/dev/null || true
    echo "== added to bench/RESULTS.md; table and plots in bench/latest/"
fi
