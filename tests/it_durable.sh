#!/usr/bin/env bash
# Integration: what oracled makes durable before it serves, seen from outside with strace. A
# fresh state directory (two levels down, neither existing) is made, and the directory that
# holds it fsynced before anything is written in it; then the state file is written to a
# temporary file, fsynced, renamed over the state file, and the state directory fsynced, all
# before "ready". A crash at any point then leaves either no state file or a whole one, in a
# directory that survives.
# Usage: it_durable.sh ORACLED FAKE_CHRONY
# Negative control (tests/RELIABILITY.md): the same check against oracled of 949327e, which made
# the directory without fsyncing its parent, fails at "fsync of the parent".
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
command -v strace >/dev/null || fail "strace not found (apt-get install strace)"

start_fake_chrony fake "$FAKE" --update-every 0.0625
parent=$TMP/var
state=$parent/oracled
mkdir "$parent"
TRACE=$TMP/strace.out
strace -f -qq -o "$TRACE" -e trace=mkdir,mkdirat,open,openat,fsync,fdatasync,rename,renameat,renameat2 \
    "$ORACLED" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --state-dir "$state" \
    --chrony "udp:127.0.0.1:$FAKE_PORT" >"$TMP/oracled.log" 2>&1 &
PID=$!
track_pid $PID
wait_for_log "$TMP/oracled.log" $PID "ready: serving timestamps" 20
# Stop oracled itself (strace's child); strace exits with it.
child=$(cat "/proc/$PID/task/$PID/children")
[ -n "$child" ] || fail "no oracled under strace ($PID)"
kill -TERM "$child"
wait $PID || true

# The lines of the trace, without the pid column.
trace=$(sed -E 's/^[0-9]+ +//' "$TRACE")
line_of() { # PATTERN [FROM]: the first line number at or after FROM matching the ERE PATTERN
    awk -v from="${2:-1}" -v pat="$1" 'NR >= from && $0 ~ pat { print NR; exit }' <<<"$trace"
}
fd_of() { # LINE: the descriptor an open returned on that line
    sed -n "${1}p" <<<"$trace" | grep -oE '= [0-9]+$' | tr -d '= '
}

mk=$(line_of "mkdir(at)?\\((AT_FDCWD, )?\"$state\", 0750\\) = 0")
[ -n "$mk" ] || fail "no mkdir of $state in the trace"
open_parent=$(line_of "open(at)?\\((AT_FDCWD, )?\"$parent\", O_RDONLY[^)]*O_DIRECTORY" "$mk")
[ -n "$open_parent" ] || fail "the parent $parent is never opened after the mkdir (line $mk)"
pfd=$(fd_of "$open_parent")
sync_parent=$(line_of "^fsync\\($pfd\\) += 0" "$open_parent")
[ -n "$sync_parent" ] || fail "no fsync of the parent (fd $pfd) after the mkdir"
open_dir=$(line_of "open(at)?\\((AT_FDCWD, )?\"$state\", O_RDONLY[^)]*O_DIRECTORY" "$mk")
[ -n "$open_dir" ] || fail "the state directory is never opened"
dfd=$(fd_of "$open_dir")
first_inside=$(line_of "\"$state/|^openat\\($dfd, " "$mk")
if [ -z "$first_inside" ] || [ "$sync_parent" -gt "$first_inside" ]; then
    fail "something was created in $state (line $first_inside) before its parent was fsynced (line $sync_parent)"
fi
pass "the new state directory's parent is fsynced (trace line $sync_parent) before anything goes in it (line $first_inside)"

open_tmp=$(line_of "\"$state/state.tmp\", O_WRONLY\\|O_CREAT" "$mk")
[ -n "$open_tmp" ] || open_tmp=$(line_of "openat\\($dfd, \"state.tmp\", O_WRONLY\\|O_CREAT" "$mk")
[ -n "$open_tmp" ] || fail "the state file is never written through state.tmp"
tfd=$(fd_of "$open_tmp")
sync_tmp=$(line_of "^f(data)?sync\\($tfd\\) += 0" "$open_tmp")
rename=$(line_of "rename(at2?)?\\(.*state\\.tmp\".*\"(.*/)?state\"" "$open_tmp")
sync_dir=$(line_of "^fsync\\($dfd\\) += 0" "${rename:-1}")
if [ -z "$sync_tmp" ] || [ -z "$rename" ] || [ -z "$sync_dir" ]; then
    fail "state file: temporary at $open_tmp, its fsync at ${sync_tmp:-none}, rename at ${rename:-none}, directory fsync at ${sync_dir:-none}"
fi
[ "$sync_tmp" -lt "$rename" ] || fail "renamed (line $rename) before the fsync (line $sync_tmp)"
pass "state file written to state.tmp, fsynced (line $sync_tmp), renamed (line $rename), directory fsynced (line $sync_dir)"

# A second start on the same directory (a run may have crashed between making it and the
# fsync): the parent is fsynced again before the state directory is used.
TRACE2=$TMP/strace2.out
strace -f -qq -o "$TRACE2" -e trace=mkdir,mkdirat,open,openat,fsync \
    "$ORACLED" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --state-dir "$state" \
    --chrony "udp:127.0.0.1:$FAKE_PORT" >"$TMP/oracled2.log" 2>&1 &
PID=$!
track_pid $PID
wait_for_log "$TMP/oracled2.log" $PID "listening on 127\.0\.0\.1:[0-9]+ \(oracle" 10
child=$(cat "/proc/$PID/task/$PID/children")
kill -TERM "$child"
wait $PID || true
trace=$(sed -E 's/^[0-9]+ +//' "$TRACE2")
mk=$(line_of "mkdir(at)?\\((AT_FDCWD, )?\"$state\", 0750\\) = -1 EEXIST")
[ -n "$mk" ] || fail "second start: no mkdir of the existing $state"
open_parent=$(line_of "open(at)?\\((AT_FDCWD, )?\"$parent\", O_RDONLY[^)]*O_DIRECTORY" "$mk")
[ -n "$open_parent" ] || fail "second start: the parent is not opened"
pfd=$(fd_of "$open_parent")
[ -n "$(line_of "^fsync\\($pfd\\) += 0" "$open_parent")" ] || fail "second start: no fsync of the parent"
pass "second start on the existing directory: its parent fsynced again"
