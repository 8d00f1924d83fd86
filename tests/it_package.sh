#!/usr/bin/env bash
# Integration: the Debian package's life cycle, run by dpkg itself into a scratch root
# (dpkg --root with --force-script-chrootless: the maintainer scripts run with DPKG_ROOT set,
# and systemctl, deb-systemd-invoke, deb-systemd-helper, systemd-sysusers and udevadm are stubs
# that record their calls, so nothing of this machine is touched). Checked:
#   install: the user made, systemd reloaded, the service not started;
#   the stack's settings in a drop-in (as deploy/aws/oracled.yaml writes them);
#   upgrade to a package whose conffile changed, stdin closed (as unattended-upgrades runs):
#     no prompt, the new conffile in place, the drop-in kept, the running service restarted
#     (it drains first);
#   remove: stopped and disabled, the conffile and the state kept;
#   purge: the conffile, the state, the enablement and the stack's drop-in gone.
# Negative control: the old user data, which edited the conffile, makes the same upgrade stop
# at the conffile prompt ("end of file on stdin").
# Usage: it_package.sh BUILD_DIR
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

BUILD=$1
for tool in dpkg dpkg-deb; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed"
        exit 77
    fi
done

run 0 cmake --build "$BUILD" --target package
deb=$(ls "$BUILD"/oracled_*.deb)
version=$(dpkg-deb -f "$deb" Version)

# The same package, one version on, with a line added to its conffile.
dpkg-deb -R "$deb" "$TMP/next"
echo "# changed in the next version" >>"$TMP/next/etc/oracled/oracled.conf"
sed -i "s/^Version: .*/Version: $version.1/" "$TMP/next/DEBIAN/control"
(cd "$TMP/next/DEBIAN" && md5sum_line=$(cd .. && md5sum etc/oracled/oracled.conf) &&
    sed -i "s|^[0-9a-f]*  etc/oracled/oracled.conf$|$md5sum_line|" md5sums)
run 0 dpkg-deb --root-owner-group -b "$TMP/next" "$TMP/oracled_next.deb"
next=$TMP/oracled_next.deb

# new_root NAME: a scratch root with an empty dpkg database and systemd "running" in it.
new_root() {
    R=$TMP/$1
    mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/run/systemd/system" "$R/stubs"
    touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available" "$R/calls"
    for c in systemctl deb-systemd-invoke deb-systemd-helper systemd-sysusers udevadm; do
        printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$c" "$R" >"$R/stubs/$c"
        chmod +x "$R/stubs/$c"
    done
}

# pkg ARGS...: dpkg on $R, stdin closed; sets OUT/ERR, returns dpkg's status.
pkg() {
    local rc=0
    PATH=$R/stubs:$PATH dpkg --root="$R" --force-script-chrootless --force-depends \
        --log=/dev/null "$@" </dev/null >"$TMP/out" 2>"$TMP/err" || rc=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    return $rc
}

# The stack's user data, as deploy/aws/oracled.yaml writes it, and an enabled, running service.
stack_setup() {
    mkdir -p "$R/etc/systemd/system/oracled.service.d" "$R/etc/systemd/system/multi-user.target.wants"
    printf '[Service]\nEnvironment="ORACLED_OPTS=--drain-delay 60s"\nTimeoutStopSec=90s\n' \
        >"$R/etc/systemd/system/oracled.service.d/50-stack.conf"
    printf '[Service]\nType=oneshot\nExecStart=/usr/bin/true\n' \
        >"$R/etc/systemd/system/oracled-unhealthy.service"
    ln -sf /usr/lib/systemd/system/oracled.service \
        "$R/etc/systemd/system/multi-user.target.wants/oracled.service"
    mkdir -p "$R/var/lib/oracled"
    echo state >"$R/var/lib/oracled/state"
}

new_root main
pkg -i "$deb" || fail "install: $ERR"
if [ ! -x "$R/usr/bin/oracled" ] || [ ! -f "$R/etc/oracled/oracled.conf" ]; then
    fail "install: files missing"
fi
grep -q "^systemd-sysusers --root=$R oracled.conf$" "$R/calls" || fail "install: no user: $(cat "$R/calls")"
grep -q "^systemctl daemon-reload$" "$R/calls" || fail "install: no daemon-reload"
! grep -Eq "start|restart" "$R/calls" || fail "install started the service: $(cat "$R/calls")"
pass "install ($version): the user made, systemd reloaded, the service not started"

stack_setup
: >"$R/calls"
pkg -i "$next" || fail "upgrade: $ERR"
grep -q "^# changed in the next version$" "$R/etc/oracled/oracled.conf" ||
    fail "upgrade: the new conffile was not installed"
[ -f "$R/etc/systemd/system/oracled.service.d/50-stack.conf" ] || fail "upgrade: the drop-in went"
grep -q "^deb-systemd-invoke try-restart oracled.service$" "$R/calls" ||
    fail "upgrade: oracled not restarted: $(cat "$R/calls")"
pass "upgrade to $version.1 with its conffile changed, stdin closed: no prompt, the new" \
    "conffile, the stack's drop-in kept, oracled restarted (try-restart: it drains first)"

: >"$R/calls"
pkg -r oracled || fail "remove: $ERR"
[ ! -e "$R/usr/bin/oracled" ] || fail "remove: the program stayed"
if [ ! -f "$R/etc/oracled/oracled.conf" ] || [ ! -f "$R/var/lib/oracled/state" ]; then
    fail "remove: the conffile or the state went"
fi
grep -q "^systemctl stop oracled.service$" "$R/calls" || fail "remove: not stopped: $(cat "$R/calls")"
grep -q "^systemctl disable oracled.service$" "$R/calls" || fail "remove: not disabled"
pass "remove: stopped (it drains) and disabled; the conffile and the state kept"

: >"$R/calls"
pkg -P oracled || fail "purge: $ERR"
for gone in etc/oracled/oracled.conf var/lib/oracled etc/systemd/system/oracled.service.d \
    etc/systemd/system/multi-user.target.wants/oracled.service \
    etc/systemd/system/oracled-unhealthy.service; do
    [ ! -e "$R/$gone" ] || fail "purge: /$gone stayed"
done
grep -q "^deb-systemd-helper purge oracled.service$" "$R/calls" || fail "purge: $(cat "$R/calls")"
pass "purge: the conffile, the state directory, the enablement, the stack's drop-in and its" \
    "oracled-unhealthy.service gone"

# Control: the old user data edited the conffile; the same upgrade then stops at the prompt.
new_root control
pkg -i "$deb" || fail "control install: $ERR"
sed -i 's/^drain-delay = .*/drain-delay = 15s/' "$R/etc/oracled/oracled.conf"
if pkg -i "$next"; then
    fail "control: the upgrade went through with an edited conffile"
fi
contains "$OUT$ERR" "end of file on stdin at conffile prompt" "the conffile prompt"
pass "control: with the conffile edited as the old user data did, the upgrade stops at the" \
    "conffile prompt"
echo "it_package: $CHECKS checks passed"
