#!/usr/bin/env bash
# Plots a run's CDFs with gnuplot into the run's directory: latency per scenario (oracled,
# Redis, echo; the first repetition), the commit-wait client lateness for 1, 1,000 and 10,000
# waiters, and the server-side lateness on a quiet and a busy host. Usage: bench/plot.sh DIR
set -euo pipefail
dir=$1
command -v gnuplot >/dev/null || {
    echo "bench/plot.sh: gnuplot is not installed (apt-get install gnuplot-nox)" >&2
    exit 1
}
for s in s1 s2 s3; do
    [ -f "$dir/cdf-$s-oracled-1.dat" ] || continue
    case $s in
    s1) title="1 connection, depth 1" ;;
    s2) title="50 connections, depth 1" ;;
    s3) title="50 connections, depth 16" ;;
    esac
    gnuplot <<GP
set terminal png size 900,560
set output "$dir/latency-$s.png"
set title "Request latency, $title"
set xlabel "latency (us, log scale)"
set ylabel "fraction of requests at or below"
set logscale x
set key bottom right
set grid
plot "$dir/cdf-$s-oracled-1.dat" using 1:2 with lines lw 2 title "oracled GetTimestamp", \
     "$dir/cdf-$s-redis-1.dat" using 1:2 with lines lw 2 title "Redis INCR", \
     "$dir/cdf-$s-echo-1.dat" using 1:2 with lines lw 2 title "echo (floor)"
GP
done
if [ -f "$dir/late-1-1.dat" ]; then
    gnuplot <<GP
set terminal png size 900,560
set output "$dir/lateness.png"
set title "Commit-wait: reply received minus the instant the timestamp was certainly past"
set xlabel "client-side lateness (us, log scale; includes one loopback hop)"
set ylabel "fraction of replies at or below"
set logscale x
set key bottom right
set grid
plot "$dir/late-1-1.dat" using 1:2 with lines lw 2 title "1 waiter", \
     "$dir/late-1000-1.dat" using 1:2 with lines lw 2 title "1,000 waiters", \
     "$dir/late-10000-1.dat" using 1:2 with lines lw 2 title "10,000 waiters"
GP
fi
# The server-side lateness (oracled's /metrics buckets: a step curve) on a quiet host and beside
# a CPU hog, oracled's CPU cgroup at the hog's weight and at 10000.
for n in 1000 10000; do
    [ -f "$dir/slate-quiet-$n-1.dat" ] || continue
    lines=("\"$dir/slate-quiet-$n-1.dat\" using 1:2 with steps lw 2 title \"quiet host\"")
    for weight in 100 10000; do
        f="$dir/slate-hog-weight$weight-$n-1.dat"
        [ -f "$f" ] && lines+=("\"$f\" using 1:2 with steps lw 2 title \"CPU hog, oracled at CPU weight $weight\"")
    done
    plot=$(printf '%s, ' "${lines[@]}")
    gnuplot <<GP
set terminal png size 900,560
set output "$dir/server-lateness-$n.png"
set title "Commit-wait, $n waiters: earliest passing the timestamp to the reply handed to the kernel"
set xlabel "server-side lateness (us, log scale; /metrics buckets)"
set ylabel "fraction of releases at or below"
set logscale x
set xrange [0.2:20000]
set key bottom right
set grid
plot ${plot%, }
GP
done
for f in "$dir"/*.png; do [ -f "$f" ] && echo "plot: $f"; done; true
