#!/usr/bin/env bash
# Turns a run's results.jsonl into the markdown table of bench/RESULTS.md: medians over the
# repetitions, ratios against Redis and the echo floor measured in the same run, and each
# target with whether this run met it.
# Usage: bench/report.sh DIR NPROC CPU_MODEL COMMAND REDIS_VERSION [PINNING]
set -euo pipefail
dir=$1
# The run's start, from its directory's name (20261125T184255Z); else now.
when=$(basename "$dir" | sed -nE 's/^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2}).*/\1-\2-\3 \4:\5 UTC/p')
[ -n "$when" ] || when=$(date -u '+%Y-%m-%d %H:%M UTC')
jq -rs --arg nproc "$2" --arg cpu "$3" --arg cmd "$4" --arg redis "$5" \
    --arg pinning "${6:-Servers pinned to CPU 1, oracle-bench to CPU 0}" \
    --arg when "$when" \
    --arg run "$(basename "$dir")" '
def median: map(select(. != null)) | sort | if length == 0 then null else .[(length / 2 | floor)] end;
def fmt(x; d): if x == null then "-" else (x * pow(10; d) | round / pow(10; d) | tostring) end;
def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
. as $all
| def med(s; t; f): [ $all[] | select(.scenario == s and .target == t) | f ] | median;
["s1-1x1", "s2-50x1", "s3-50x16"] as $tput
| {"s1-1x1": "1: 1 connection, depth 1", "s2-50x1": "2: 50 connections, depth 1",
   "s3-50x16": "3: 50 connections, depth 16"} as $names
| [
  "## \($when): `\($cmd)`",
  "",
  "Machine: \($nproc) CPUs (\($cpu)), Debian 12; Redis \($redis); results in `bench/results/\($run)/`.",
  "\($pinning); each figure is the median of the repetitions, run interleaved (oracled, Redis, echo, again).",
  "",
  "| scenario | oracled req/s | Redis INCR req/s | echo req/s | oracled/Redis | oracled/echo | p50 us oracled / Redis / echo | p99 us oracled / Redis / echo |",
  "|---|---|---|---|---|---|---|---|",
  ( $tput[] as $s
    | [ med($s; "oracled"; .rps), med($s; "redis"; .rps), med($s; "echo"; .rps) ] as $r
    | [ med($s; "oracled"; .latency_us.p50), med($s; "redis"; .latency_us.p50), med($s; "echo"; .latency_us.p50) ] as $p50
    | [ med($s; "oracled"; .latency_us.p99), med($s; "redis"; .latency_us.p99), med($s; "echo"; .latency_us.p99) ] as $p99
    | "| \($names[$s]) | \(fmt($r[0]; 0)) | \(fmt($r[1]; 0)) | \(fmt($r[2]; 0)) | **\(fmt(ratio($r[0]; $r[1]); 3))** | \(fmt(ratio($r[0]; $r[2]); 3)) | \(fmt($p50[0]; 1)) / \(fmt($p50[1]; 1)) / \(fmt($p50[2]; 1)) | \(fmt($p99[0]; 1)) / \(fmt($p99[1]; 1)) / \(fmt($p99[2]; 1)) |"
  ),
  "",
  "Every run of scenarios 1-3, in the order run: req/s (host steal % over the run). The steal is CPU time the hypervisor gave to others; on these VMs it swings from 0 to 40 % within seconds and moves every target alike (13 k to 3.3 k req/s at 1x1, oracled, Redis and echo the same), so a ratio from runs with steal measures the host as much as the programs.",
  "",
  ( $tput[] as $s
    | [ "oracled", "redis", "echo" ][] as $t
    | [ $all[] | select(.scenario == $s and .target == $t) ] as $runs
    | ($runs | map(.rps) | if length > 0 then (max / (min | if . == 0 then 1 else . end)) else null end) as $spread
    | "- \($names[$s]), \($t): \([ $runs[] | "\(fmt(.rps; 0)) (\(fmt(.host_steal_percent; 1)) %)" ] | join(", ")); spread max/min \(fmt($spread; 2))" ),
  "",
  ( [ $all[] | select(.scenario == "tls-info") ][0] as $t
    | "| scenario 11: oracled over mutual TLS (TLS 1.3, records in \($t.records // "-"); kernel TLS \($t.ktls // "-"): \($t.ktls_probe // "not probed")) | plaintext req/s | TLS req/s | TLS / plaintext | p50 us plaintext / TLS | TLS / plaintext p50 | p99 us plaintext / TLS |" ),
  "|---|---|---|---|---|---|---|",
  ( $tput[] as $s
    | [ med($s; "oracled"; .rps), med("\($s)-tls"; "oracled"; .rps) ] as $r
    | [ med($s; "oracled"; .latency_us.p50), med("\($s)-tls"; "oracled"; .latency_us.p50) ] as $p50
    | [ med($s; "oracled"; .latency_us.p99), med("\($s)-tls"; "oracled"; .latency_us.p99) ] as $p99
    | "| \($names[$s]) | \(fmt($r[0]; 0)) | \(fmt($r[1]; 0)) | **\(fmt(ratio($r[1]; $r[0]); 3))** | \(fmt($p50[0]; 1)) / \(fmt($p50[1]; 1)) | **\(fmt(ratio($p50[1]; $p50[0]); 3))** | \(fmt($p99[0]; 1)) / \(fmt($p99[1]; 1)) |"
  ),
  "",
  "| scenario 4: `ts --count 64`, 1 connection | requests/s | timestamps/s | p50 us | p99 us |",
  "|---|---|---|---|---|",
  "| oracled | \(fmt(med("s4-count64"; "oracled"; .rps); 0)) | \(fmt(med("s4-count64"; "oracled"; .timestamps_per_s); 0)) | \(fmt(med("s4-count64"; "oracled"; .latency_us.p50); 1)) | \(fmt(med("s4-count64"; "oracled"; .latency_us.p99); 1)) |",
  "",
  "| scenario 5: commit-wait | requests/s | waited p50 / p99 us | server lateness p50 / p99 / p99.9 / max us | its parts, p99 us: before the release / after | client lateness p50 / p99 / max us | oracled run-queue wait % | server CPU s |",
  "|---|---|---|---|---|---|---|---|",
  ( [["s5-wait-1", "1 waiter (`--op ts-wait`, closed loop 1x1)"], ["s5-wait-1000", "1,000 waiters (`--op wait-until` +100 ms at 10,000/s, open loop)"], ["s5-wait-10000", "10,000 waiters (`--op wait-until` +500 ms at 20,000/s, open loop)"]][]
    | .[0] as $s
    | "| \(.[1]) | \(fmt(med($s; "oracled"; .rps); 0)) | \(fmt(med($s; "oracled"; .waited_us.p50); 1)) / \(fmt(med($s; "oracled"; .waited_us.p99); 1)) | \(fmt(med($s; "oracled"; .server_lateness_us.p50); 1)) / \(fmt(med($s; "oracled"; .server_lateness_us.p99); 1)) / \(fmt(med($s; "oracled"; .server_lateness_us.p999); 0)) / ≤\(fmt(med($s; "oracled"; .server_lateness_us.max_le); 0)) | \(fmt(med($s; "oracled"; .server_late_at_release_us.p99); 1)) / \(fmt(med($s; "oracled"; .server_late_write_us.p99); 1)) | \(fmt(med($s; "oracled"; .client_lateness_us.p50); 1)) / \(fmt(med($s; "oracled"; .client_lateness_us.p99); 1)) / \(fmt(med($s; "oracled"; .client_lateness_us.max); 0)) | \(fmt(med($s; "oracled"; .server_runqueue_wait_percent); 2)) | \(fmt(med($s; "oracled"; .server_cpu_s); 2)) |"
  ),
  "",
  "Lateness in two parts (server-side): before the release (the wake-up: the loop thread looking at the clock late, because the kernel gave its CPU to another task or the writes of the previous pass held it) and after (the rest of the release pass and the writes, to the reply handed to the kernel). The run-queue wait is the share of the run the loop thread was runnable but not running (`/proc/PID/schedstat`).",
  "",
  "| scenario 9: a burst of N waiters due at one instant (100 connections) | bursts | first reply to last, p50 / max us | per waiter us (p50 / N) | last reply after the instant, p50 / max us (client) | server lateness p50 / p99 / max us |",
  "|---|---|---|---|---|---|",
  ( [100, 1000, 10000][] as $n | "s9-burst-\($n)" as $s
    | "| \($n) | \([ $all[] | select(.scenario == $s) | .burst_rounds ] | add // null | fmt(.; 0)) | \(fmt(med($s; "oracled"; .burst_span_us.p50); 0)) / \(fmt([ $all[] | select(.scenario == $s) | .burst_span_us.max ] | max; 0)) | \(fmt(med($s; "oracled"; .burst_span_per_waiter_us); 3)) | \(fmt(med($s; "oracled"; .burst_released_us.p50); 0)) / \(fmt([ $all[] | select(.scenario == $s) | .burst_released_us.max ] | max; 0)) | \(fmt(med($s; "oracled"; .server_lateness_us.p50); 0)) / \(fmt(med($s; "oracled"; .server_lateness_us.p99); 0)) / ≤\(fmt(med($s; "oracled"; .server_lateness_us.max_le); 0)) |"
  ),
  "",
  "| scenario 10: a busy host (a CPU hog on the servers CPU, each in a CPU cgroup of its own) | server lateness p50 / p99 / p99.9 / max us | its parts, p99 us: before the release / after | oracled run-queue wait % | hog CPU % |",
  "|---|---|---|---|---|",
  ( [1000, 10000][] as $n
    | ( ["s5-wait-\($n)", "\($n) waiters, quiet host (scenario 5)"], ["s10-hog-weight100-\($n)", "\($n) waiters, hog, equal CPU weights (two services by default)"], ["s10-hog-weight10000-\($n)", "\($n) waiters, hog, oracled at CPU weight 10000 (the systemd unit)"] )
    | .[0] as $s
    | "| \(.[1]) | \(fmt(med($s; "oracled"; .server_lateness_us.p50); 1)) / \(fmt(med($s; "oracled"; .server_lateness_us.p99); 1)) / \(fmt(med($s; "oracled"; .server_lateness_us.p999); 0)) / ≤\(fmt(med($s; "oracled"; .server_lateness_us.max_le); 0)) | \(fmt(med($s; "oracled"; .server_late_at_release_us.p99); 1)) / \(fmt(med($s; "oracled"; .server_late_write_us.p99); 1)) | \(fmt(med($s; "oracled"; .server_runqueue_wait_percent); 2)) | \(fmt(med($s; "oracled"; .competitor_cpu_percent); 1)) |"
  ),
  "",
  "| scenario 8: liboracle-client, N callers | timestamps/s shared / per-thread / async | server requests/s shared / per-thread / async | calls per request (shared) | p50 us shared / per-thread / async | p99 us shared / per-thread / async | client CPU s shared / per-thread / async | server CPU s shared / per-thread / async |",
  "|---|---|---|---|---|---|---|---|",
  ( ["ts", "ts-wait"][] as $op | [1, 8, 64, 512][] as $n
    | def m(mode; f): med("s8-\(mode)-\($op)-\($n)"; "oracled"; f);
    "| `\($op)` x\($n) | \(fmt(m("shared"; .timestamps_per_s); 0)) / \(fmt(m("per-thread"; .timestamps_per_s); 0)) / \(fmt(m("async"; .timestamps_per_s); 0)) | \(fmt(m("shared"; .server_requests_per_s); 0)) / \(fmt(m("per-thread"; .server_requests_per_s); 0)) / \(fmt(m("async"; .server_requests_per_s); 0)) | \(fmt(m("shared"; .calls_per_request); 1)) | \(fmt(m("shared"; .latency_us.p50); 1)) / \(fmt(m("per-thread"; .latency_us.p50); 1)) / \(fmt(m("async"; .latency_us.p50); 1)) | \(fmt(m("shared"; .latency_us.p99); 1)) / \(fmt(m("per-thread"; .latency_us.p99); 1)) / \(fmt(m("async"; .latency_us.p99); 1)) | \(fmt(m("shared"; .client_cpu_s); 2)) / \(fmt(m("per-thread"; .client_cpu_s); 2)) / \(fmt(m("async"; .client_cpu_s); 2)) | \(fmt(m("shared"; .server_cpu_s); 2)) / \(fmt(m("per-thread"; .server_cpu_s); 2)) / \(fmt(m("async"; .server_cpu_s); 2)) |"
  ),
  "",
  ( [ [1, 8, 64, 512][] as $n | "x\($n) \(fmt(med("s8-shared-ts-wait-\($n)"; "oracled"; .waited_us.p50); 1)) / \(fmt(med("s8-shared-ts-wait-\($n)"; "oracled"; .waited_us.p99); 1)) shared, \(fmt(med("s8-per-thread-ts-wait-\($n)"; "oracled"; .waited_us.p50); 1)) / \(fmt(med("s8-per-thread-ts-wait-\($n)"; "oracled"; .waited_us.p99); 1)) per-thread" ] | join("; ")
    | "With commit-wait (`ts-wait`), the wait the server added, p50 / p99 us: \(.)." ),
  "",
  ( [ $all[] | select(.scenario == "s6-idle-10000") ][0] as $i
    | "Scenario 6: 10,000 idle connections: server RSS \(fmt($i.server_rss_kib_before / 1024; 1)) MiB before, \(fmt($i.server_rss_kib_connected / 1024; 1)) MiB with them open: **\(fmt($i.server_rss_bytes_per_connection; 0)) bytes per connection**." ),
  ( [ $all[] | select(.scenario == "s7-rest") ][0] as $r
    | "Scenario 7: the server at rest (chrony polled every 20 ms): **\(fmt($r.server_cpu_s; 3)) s of CPU in \(fmt($r.seconds; 0)) s** (\(fmt($r.server_cpu_percent; 2)) % of a core)." ),
  "",
  "Targets (reported, never asserted):",
  "",
  ( $tput[] as $s | ratio(med($s; "oracled"; .rps); med($s; "redis"; .rps)) as $x
    | "- \($names[$s]): oracled/Redis ≥ 1.0: \(fmt($x; 3)) — \(if $x == null then "not measured" elif $x >= 1 then "met" else "missed" end)" ),
  ( ratio(med("s1-1x1"; "oracled"; .latency_us.p50); med("s1-1x1"; "echo"; .latency_us.p50)) as $x
    | "- scenario 1 latency within 10 % of the echo floor: p50 oracled/echo \(fmt($x; 3)) — \(if $x == null then "not measured" elif $x <= 1.1 then "met" else "missed" end)" ),
  ( [ "s5-wait-1", "s5-wait-1000", "s5-wait-10000" ][] as $s
    | [ med($s; "oracled"; .server_lateness_us.p50), med($s; "oracled"; .server_lateness_us.p99) ] as $l
    | "- server-side lateness ≤ 5 us p50, ≤ 20 us p99 (\($s)): \(fmt($l[0]; 1)) / \(fmt($l[1]; 1)) us — \(if $l[0] == null or $l[1] == null then "not measured" elif $l[0] <= 5 and $l[1] <= 20 then "met" else "missed" end)" ),
  ( [ $all[] | select(.scenario == "s9-burst-10000") | .burst_released_us.max ] | (if length == 0 then null else max end) as $m
    | "- a burst of 10,000 fully released within 10 ms (the last reply after the instant, worst burst, client-side): \(fmt($m; 0)) us — \(if $m == null then "not measured" elif $m <= 10000 then "met" else "missed" end)" ),
  ( [ med("s8-shared-ts-64"; "oracled"; .timestamps_per_s), med("s8-per-thread-ts-64"; "oracled"; .timestamps_per_s), med("s8-shared-ts-64"; "oracled"; .server_requests_per_s), med("s8-per-thread-ts-64"; "oracled"; .server_requests_per_s) ] as $x
    | ratio($x[0]; $x[1]) as $t | ratio($x[3]; $x[2]) as $r
    | "- scenario 8, 64 threads: shared ≥ 2× the per-thread timestamps/s: \(fmt($t; 2))× — \(if $t == null then "not measured" elif $t >= 2 then "met" else "missed" end); with ≥ 10× fewer server requests: \(fmt($r; 1))× — \(if $r == null then "not measured" elif $r >= 10 then "met" else "missed" end)" ),
  ( ratio(med("s8-shared-ts-1"; "oracled"; .latency_us.p50); med("s8-per-thread-ts-1"; "oracled"; .latency_us.p50)) as $x
    | "- scenario 8, 1 thread: a shared client call ≤ 10 % over a blocking client call (p50): \(fmt($x; 3)) — \(if $x == null then "not measured" elif $x <= 1.1 then "met" else "missed" end)" ),
  ( [ $all[] | select(.scenario == "s8-shared-ts-512") ][0] as $r
    | "- scenario 8, 512 threads on one shared client: \(if $r == null then "not measured" else "\(fmt($r.timestamps_per_s; 0)) timestamps/s, p99 \(fmt($r.latency_us.p99; 0)) us, max \(fmt($r.latency_us.max; 0)) us, \($r.errors) errors" end)" ),
  ( [ $all[] | select(.scenario == "tls-info") ][0] as $t
    | [ $tput[] as $s | [ ratio(med("\($s)-tls"; "oracled"; .rps); med($s; "oracled"; .rps)), ratio(med("\($s)-tls"; "oracled"; .latency_us.p50); med($s; "oracled"; .latency_us.p50)) ] ] as $x
    | ($x | map(.[0] != null and .[1] != null and .[0] >= 0.9 and .[1] <= 1.1) | all) as $ok
    | "- over TLS with kernel TLS, ≥ 0.9× the plaintext throughput and ≤ 1.1× its p50 (scenarios 1-3): \(if $t == null then "not measured" elif $t.records != "kernel" then "not measurable here: kernel TLS \($t.ktls // "-") (\($t.ktls_probe // "-")); with records in userspace" else "with kernel TLS" end) \([ $x[] | "\(fmt(.[0]; 2))× / \(fmt(.[1]; 2))×" ] | join(", ")) — \(if $t == null then "not measured" elif $t.records != "kernel" then "target not measured (it is for kernel TLS)" elif $ok then "met" else "missed" end)" ),
  ( [ $all[] | .host_steal_percent | select(. != null) ] | (if length == 0 then null else max end) as $m
    | "- host steal ≤ 5 % in every run (else the ratios measured the host too): max \(fmt($m; 1)) % — \(if $m == null then "not measured" elif $m <= 5 then "met" else "missed" end)" ),
  ( [ $all[] | select(.scenario == "s7-rest") ][0].server_cpu_percent as $c
    | "- CPU at rest ≈ 0: \(fmt($c; 2)) % of a core — \(if $c == null then "not measured" elif $c < 1 then "met" else "missed" end)" ),
  ""
] | .[]' "$dir/results.jsonl"
