#!/usr/bin/env bash
# Deployment files, checked as far as this machine allows: the systemd unit (systemd-analyze
# verify and security, the settings that must agree with oracled.conf, and oracled reaching
# READY=1 on the shipped configuration), the chrony configurations (chronyd -p parses them;
# maxclockerror agrees with oracled's max drift), the CloudFormation template (against oracled's
# defaults and the unit), and the Debian package (its contents, metadata and programs).
# Each check that claims to catch a mistake is shown catching one.
# Usage: it_deploy.sh ORACLED FAKE_CHRONY NOTIFY_LISTEN BUILD_DIR
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
NOTIFY_LISTEN=$3
BUILD=$4
DEPLOY=$(cd "$(dirname "$0")/../deploy" && pwd)
UNIT=$DEPLOY/systemd/oracled.service
CONF=$DEPLOY/systemd/oracled.conf
for tool in systemd-analyze chronyd python3 dpkg-deb help2man man shellcheck; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed (dev/install-deps --test installs it)"
        exit 77
    fi
done

# conf KEY: the value oracled.conf sets.
conf() {
    sed -nE "s/^$1 *= *([^ #]+).*/\1/p" "$CONF"
}
# unit KEY: the unit's setting.
unit() {
    sed -nE "s/^$1=(.*)/\1/p" "$UNIT"
}

# --- the systemd unit ---
# verify UNIT: systemd-analyze verify's messages (it only warns about an unknown key, so any
# message at all counts as a failure); the exit status is 1 when there are any.
verify() {
    local out
    out=$(systemd-analyze verify --man=no "$1" 2>&1) && [ -z "$out" ] && return 0
    echo "$out"
    return 1
}
sed "s|/usr/bin/oracled|$ORACLED|" "$UNIT" >"$TMP/oracled.service"
run 0 verify "$TMP/oracled.service"
run 0 systemd-analyze security --offline=yes "$TMP/oracled.service"
exposure=$(sed -nE 's/.*Overall exposure level for oracled.service: ([0-9.]+).*/\1/p' <<<"$OUT")
[ -n "$exposure" ] || fail "no exposure level: $OUT"
awk -v e="$exposure" 'BEGIN { exit !(e < 2.0) }' || fail "exposure $exposure, want below 2.0"
pass "the unit passes systemd-analyze verify; hardened (systemd-analyze security: $exposure)"

sed 's/^ProtectClock=/ProtectClok=/' "$TMP/oracled.service" >"$TMP/typo.service"
run 1 verify "$TMP/typo.service"
contains "$OUT" "Unknown key 'ProtectClok'" "a misspelt key"
pass "control: the same check fails on the unit with a hardening key misspelt"

# The drop-ins, merged by systemd itself (systemd-analyze --root reads the unit and its
# oracled.service.d/ as an installed system would; no systemd runs here to start it, so the
# sandbox is checked as systemd resolves it, and OPERATIONS says what to verify on a host).
# sandbox ROOT: systemd-analyze security's view of oracled.service installed under ROOT.
sandbox() {
    systemd-analyze security --offline=yes --root="$1" oracled.service 2>&1
}
SD=$TMP/sdroot
mkdir -p "$SD/usr/lib/systemd/system" "$SD/etc/systemd/system/oracled.service.d"
cp "$TMP/oracled.service" "$SD/usr/lib/systemd/system/oracled.service"
run 0 sandbox "$SD"
contains "$OUT" "✓ PrivateTmp=" "PrivateTmp on without the drop-in"
cp "$DEPLOY/systemd/oracled-clockbound.conf" "$SD/etc/systemd/system/oracled.service.d/"
run 0 sandbox "$SD"
contains "$OUT" "✗ PrivateTmp=" "PrivateTmp off with the ClockBound drop-in"
contains "$OUT" "✓ PrivateDevices=" "PrivateDevices still on with the ClockBound drop-in"
# Its options are the paths of its RuntimeDirectory= and oracled takes them.
cb_opts=$(sed -nE 's/^Environment="ORACLED_CLOCKBOUND_OPTS=(.*)"$/\1/p' \
    "$DEPLOY/systemd/oracled-clockbound.conf")
cb_dirs=$(sed -nE 's/^RuntimeDirectory=(.*)/\1/p' "$DEPLOY/systemd/oracled-clockbound.conf")
[ "$cb_dirs" = "clockboundd clockbound" ] || fail "RuntimeDirectory=$cb_dirs"
contains "$cb_opts" "^--clockbound-socket /run/clockboundd/[^ ]+ --clockbound-shm /run/clockbound/[^ ]+$" \
    "the drop-in's options"
# shellcheck disable=SC2086 # the options are words, as systemd splits them
run 0 "$ORACLED" --config "$CONF" $cb_opts --version
# Control: the same lines at the end of the unit's [Service] section, before PrivateTmp=yes (the
# old commented block, uncommented), leave PrivateTmp on.
rm "$SD/etc/systemd/system/oracled.service.d/oracled-clockbound.conf"
sed '/^Restart=on-failure/i PrivateTmp=no' "$TMP/oracled.service" >"$SD/usr/lib/systemd/system/oracled.service"
run 0 sandbox "$SD"
contains "$OUT" "✓ PrivateTmp=" "control: PrivateTmp=no before PrivateTmp=yes in the unit"
pass "the ClockBound drop-in, merged by systemd: PrivateTmp off, PrivateDevices still on, its" \
    "options name its RuntimeDirectory= paths and oracled takes them; control: PrivateTmp=no" \
    "inside the unit, before its PrivateTmp=yes, leaves it on"

[ "$(unit Type)" = notify ] || fail "Type=$(unit Type)"
[ "$(unit User):$(unit Group)" = oracled:oracled ] || fail "User/Group: $(unit User):$(unit Group)"
[ "$(unit StateDirectory):$(conf state-dir)" = oracled:/var/lib/oracled ] ||
    fail "StateDirectory $(unit StateDirectory) vs state-dir $(conf state-dir)"
[ "$(unit Restart)" = on-failure ] || fail "Restart=$(unit Restart)"
contains "$(unit After)" "chrony" "After="
# shellcheck disable=SC2016 # the unit's text, expanded by systemd
[ "$(unit ExecStart)" = '/usr/bin/oracled --config /etc/oracled/oracled.conf $ORACLED_OPTS $ORACLED_CLOCKBOUND_OPTS' ] ||
    fail "ExecStart=$(unit ExecStart)"
[ "$(unit Environment)" = "ORACLED_OPTS= ORACLED_CLOCKBOUND_OPTS=" ] ||
    fail "Environment=$(unit Environment)"
[ "$(unit LimitNOFILE)" -ge $(($(conf max-connections) + $(conf http-max-connections) + 64)) ] ||
    fail "LimitNOFILE $(unit LimitNOFILE) below max-connections $(conf max-connections) +" \
        "http-max-connections $(conf http-max-connections) + 64"
for setting in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectClock=yes \
    ProtectHome=yes "CapabilityBoundingSet=" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
    grep -qx "$setting" "$UNIT" || fail "the unit lacks $setting"
done
pass "the unit: notify, its own user, its state directory = state-dir, after chrony, restart on" \
    "failure, LimitNOFILE $(unit LimitNOFILE) above both connection caps, ProtectClock"

# oracled on the shipped configuration (addresses, state and chrony made local) reports ready.
start_fake_chrony fake "$FAKE"
"$NOTIFY_LISTEN" "$TMP/notify.sock" 20 >"$TMP/notify.out" &
track_pid $!
wait_until 10 "notify-listen's socket" test -S "$TMP/notify.sock"
NOTIFY_SOCKET=$TMP/notify.sock start_oracled_on "$ORACLED" shipped "$FAKE_PORT" --config "$CONF" \
    --drain-delay 0
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
for _ in $(seq 1 50); do
    grep -q "READY=1" "$TMP/notify.out" && break
    sleep 0.1
done
contains "$(cat "$TMP/notify.out")" "READY=1" "sd_notify"
kill -TERM $PID
wait $PID || fail "oracled on the shipped configuration exited $?"
pass "oracled on the shipped oracled.conf: READY=1 once serving, clean stop"

# Under systemd, stderr is the journal (JOURNAL_STREAM names it): each line carries its
# priority, so the journal files warnings as warnings. A file stands in for the journal's stream.
journal_run() { # FILE [JOURNAL_STREAM]: oracled for a moment (the descriptor limit warned of)
    JOURNAL_STREAM=${2:-} "$ORACLED" --listen 127.0.0.1:0 --http-listen none \
        --max-connections 10000000 --state-dir "$TMP/journal-state" --chrony udp:127.0.0.1:9 \
        >>"$1" 2>&1 &
    local pid=$!
    track_pid $pid
    wait_for_log "$1" $pid "listening on" 10
    kill -TERM $pid
    wait $pid || true
}
for f in journal plain other; do : >"$TMP/$f.log"; done
journal_run "$TMP/journal.log" "$(stat -c '%d:%i' "$TMP/journal.log")"
grep -q '^<6>[0-9-]*T.* oracled: info: listening on' "$TMP/journal.log" ||
    fail "no <6> on info lines: $(head -n 3 "$TMP/journal.log")"
grep -q '^<4>[0-9-]*T.* oracled: warn: the file descriptor limit' "$TMP/journal.log" ||
    fail "no <4> on warnings: $(cat "$TMP/journal.log")"
journal_run "$TMP/plain.log"
grep -q '^[0-9-]*T.* oracled: warn: the file descriptor limit' "$TMP/plain.log" ||
    fail "no plain warning: $(cat "$TMP/plain.log")"
! grep -q '^<[0-9]>' "$TMP/plain.log" || fail "priority prefixes outside the journal"
journal_run "$TMP/other.log" "1:1"
! grep -q '^<[0-9]>' "$TMP/other.log" || fail "priority prefixes for another stream"
pass "stderr as the journal: <6> on info, <4> on warnings; none on a plain file or another stream"

# --- chrony ---
drift_ppm=$(($(conf max-drift-ppb) / 1000))
[ "$(conf chrony-maxclockerror-ppb)" = "$(conf max-drift-ppb)" ] ||
    fail "chrony-maxclockerror-ppb $(conf chrony-maxclockerror-ppb) != max-drift-ppb"
for f in "$DEPLOY"/chrony/ec2-*.conf; do
    run 0 chronyd -p -f "$f"
    grep -qx "maxclockerror $drift_ppm" "$f" || fail "$f: maxclockerror is not $drift_ppm"
done
grep -q "^server 169.254.169.123 " "$DEPLOY/chrony/ec2-ntp.conf" || fail "ec2-ntp: no endpoint"
grep -q "^refclock PHC " "$DEPLOY/chrony/ec2-phc.conf" || fail "ec2-phc: no PHC refclock"
sed 's/^maxclockerror/maxclockeror/' "$DEPLOY/chrony/ec2-ntp.conf" >"$TMP/typo.conf"
run 1 chronyd -p -f "$TMP/typo.conf"
contains "$ERR" "Invalid directive" "chronyd -p on a typo"
pass "chrony: both configurations parse (chronyd -p), maxclockerror $drift_ppm ppm = max-drift-ppb" \
    "= chrony-maxclockerror-ppb; a typo is caught"

# --- the PHC's own error bound: one reference ID in chrony's refclock line, oracled.conf and
# oracled's default; the PHC settings parse; the template turns them on with TimeSource phc ---
chrony_refid=$(awk '$1 == "refclock" && $2 == "PHC" {
    for (i = 3; i < NF; i++) if ($i == "refid") print $(i + 1) }' "$DEPLOY/chrony/ec2-phc.conf")
conf_refid=$(sed -nE 's/^#?phc-refid = ([^ #]+).*/\1/p' "$CONF")
default_refid=$("$ORACLED" --help | sed -nE '/--phc-refid/,/default/ s/.*\(default ([A-Z0-9]+)\).*/\1/p')
[ -n "$chrony_refid" ] || fail "ec2-phc.conf: the PHC refclock has no refid"
if [ "$chrony_refid" != "$conf_refid" ] || [ "$conf_refid" != "$default_refid" ]; then
    fail "PHC reference IDs differ: chrony $chrony_refid, oracled.conf $conf_refid, default $default_refid"
fi
sed -E 's/^#(phc-(interface|refid) = )/\1/' "$CONF" >"$TMP/phc.conf"
grep -q "^phc-interface = " "$TMP/phc.conf" || fail "oracled.conf: no phc-interface line"
run 0 "$ORACLED" --config "$TMP/phc.conf" --version
sed -E 's/^#(phc-refid = ).*/\1PHC10/' "$CONF" >"$TMP/phc-bad.conf"
run 2 "$ORACLED" --config "$TMP/phc-bad.conf" --version
contains "$ERR" "invalid value 'PHC10' for phc-refid" "a bad phc-refid"
# shellcheck disable=SC2016 # the template's text, not this shell's
grep -q 'opts="$opts --phc-interface $iface --phc-refid PHC0"' "$DEPLOY/aws/oracled.yaml" ||
    fail "the template does not set phc-interface"
# shellcheck disable=SC2016
if ! grep -q 'time_source=${TimeSource}' "$DEPLOY/aws/oracled.yaml" ||
    ! grep -q 'if \[ "$time_source" = phc \]' "$DEPLOY/aws/oracled.yaml"; then
    fail "the template does not set the PHC settings for TimeSource phc"
fi
pass "PHC: refid $chrony_refid in ec2-phc.conf = oracled.conf = oracled's default; the settings" \
    "parse (a bad refid is refused); the template sets them for TimeSource phc"

# --- CloudFormation ---
"$ORACLED" --help >"$TMP/help.txt"
CFN=$DEPLOY/aws/oracled.yaml
run 0 python3 "$(dirname "$0")/support/check_cfn.py" "$CFN" "$CONF" "$TMP/help.txt" "$UNIT"
echo "# ${OUT//$'\n'/$'\n'# }"
pass "the CloudFormation template agrees with oracled's defaults, oracled.conf and the unit"
# refused TEMPLATE CONF UNIT EXPECTED WHAT: check_cfn.py fails on these files, naming EXPECTED.
refused() {
    run 1 python3 "$(dirname "$0")/support/check_cfn.py" "$1" "$2" "$TMP/help.txt" "$3"
    contains "$OUT" "FAIL: $4" "$5"
}
# flip KEY FILE: the template with KEY's first value "false" turned "true".
flip() {
    python3 -c 'import re, sys
key, path = sys.argv[1], sys.argv[2]
text = open(path).read()
pattern = re.escape(key) + r"\s+Value: \"false\""
print(re.sub(pattern, lambda m: m.group(0).replace("false", "true"), text, count=1), end="")
' "$1" "$2"
}
flip load_balancing.cross_zone.enabled "$CFN" >"$TMP/crosszone.yaml"
refused "$TMP/crosszone.yaml" "$CONF" "$UNIT" "cross-zone load balancing off on the NLB" "cross-zone on"
sed 's/^drain-delay = 60s/drain-delay = 5s/' "$CONF" >"$TMP/short-drain.conf"
refused "$CFN" "$TMP/short-drain.conf" "$UNIT" "oracled.conf's drain-delay" "a drain delay that disagrees"
# The settings that reset clients' connections (what AWS does by default) are caught.
flip target_health_state.unhealthy.connection_termination.enabled "$CFN" >"$TMP/reset.yaml"
refused "$TMP/reset.yaml" "$CONF" "$UNIT" "no connection reset when a target turns unhealthy" "unhealthy termination on"
flip deregistration_delay.connection_termination.enabled "$CFN" >"$TMP/reset2.yaml"
refused "$TMP/reset2.yaml" "$CONF" "$UNIT" "no connection reset at the end of deregistration" "deregistration reset on"
sed 's/^TimeoutStopSec=90s/TimeoutStopSec=45s/' "$UNIT" >"$TMP/short-stop.service"
refused "$CFN" "$CONF" "$TMP/short-stop.service" "the unit's TimeoutStopSec" "a stop timeout below the drain"
sed 's|oracled.service.d/50-stack.conf|oracled.service.d/50-stack.conf; sed -i s/x/y/ /etc/oracled/oracled.conf|' \
    "$CFN" >"$TMP/conffile.yaml"
refused "$TMP/conffile.yaml" "$CONF" "$UNIT" "the stack's settings in a systemd drop-in" "user data editing the conffile"
pass "control: the check fails for cross-zone on, a drain delay that disagrees, connection" \
    "resets when unhealthy or at deregistration, a stop timeout below the drain, and user data" \
    "that edits the conffile"

# The boot script, as an instance gets it (the template's parameters filled in): bash parses it
# and shellcheck finds nothing.
python3 - "$CFN" >"$TMP/userdata.sh" <<'PY'
import re, sys, yaml
class L(yaml.SafeLoader):
    pass
L.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                        if isinstance(node, yaml.ScalarNode) else None)
t = yaml.load(open(sys.argv[1]), Loader=L)
script = t["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
values = {"AWS::Region": "us-east-1", "AWS::StackName": "oracled", "PackageBucket": "bucket",
          "PackageKey": "oracled.deb", "TimeSource": "ntp", "OraclePort": "7600",
          "HttpPort": "7601", "DrainDelaySeconds": "60",
          "TlsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:oracled-tls",
          "TlsAllowClients": "CN=db-1 URI:spiffe://prod/db"}
print(re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: values[m.group(1)], script), end="")
PY
run 0 bash -n "$TMP/userdata.sh"
run 0 shellcheck -s bash "$TMP/userdata.sh"
pass "the boot script (user data, parameters filled in) parses and passes shellcheck"
sed 's/HealthCheckType: EC2/HealthCheckType: ELB/' "$CFN" >"$TMP/elb.yaml"
refused "$TMP/elb.yaml" "$CONF" "$UNIT" "GroupA: EC2 health checks, not ELB" "ELB health checks"
sed 's/WaitOnResourceSignals: true/WaitOnResourceSignals: false/' "$CFN" >"$TMP/nosignal.yaml"
refused "$TMP/nosignal.yaml" "$CONF" "$UNIT" "GroupA: a new launch template rolls out" "rolling without signals"
pass "control: the check fails for ELB health checks, and for a rolling update that does not wait" \
    "for signals"

# --- the Debian package ---
run 0 cmake --build "$BUILD" --target package
deb=$(ls "$BUILD"/oracled_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$TMP/contents"
for path in /usr/bin/oracled /usr/bin/oracle-cli /usr/bin/clockbound \
    /usr/lib/liboracle-client.so.0.1.0 /usr/lib/liboracle-client.a \
    /usr/include/oracle/client.h /usr/lib/pkgconfig/oracle-client.pc \
    /usr/lib/systemd/system/oracled.service /usr/lib/sysusers.d/oracled.conf \
    /usr/lib/udev/rules.d/70-oracled-vmclock.rules \
    /etc/oracled/oracled.conf /usr/share/man/man8/oracled.8.gz /usr/share/man/man1/oracle-cli.1.gz \
    /usr/share/man/man1/clockbound.1.gz /usr/share/doc/oracled/OPERATIONS.md \
    /usr/share/oracled/chrony/ec2-ntp.conf /usr/share/oracled/chrony/ec2-phc.conf \
    /usr/share/oracled/prometheus/oracled-rules.yml /usr/share/oracled/aws/oracled.yaml \
    /usr/share/oracled/systemd/oracled-clockbound.conf; do
    grep -qx "$path" "$TMP/contents" || fail "the package lacks $path"
done
run 0 dpkg-deb -I "$deb"
info=$OUT
contains "$info" "Depends: .*chrony" "Depends"
contains "$info" "Depends: .*libuv1" "Depends (shlibdeps)"
contains "$info" "Depends: .*libprotobuf-c1" "Depends (shlibdeps)"
run 0 dpkg-deb -I "$deb" conffiles
[ "$OUT" = /etc/oracled/oracled.conf ] || fail "conffiles: $OUT"
for script in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$script" >"$TMP/$script"
    sh -n "$TMP/$script" || fail "$script: syntax"
done
dpkg-deb -x "$deb" "$TMP/root"
run 0 "$TMP/root/usr/bin/oracled" --version
[ "$OUT" = "oracled $(sed -nE 's/^project\(oracled VERSION ([0-9.]+).*/\1/p' \
    "$(dirname "$0")/../CMakeLists.txt")" ] || fail "packaged oracled --version: $OUT"
run 0 "$TMP/root/usr/bin/oracle-cli" --version
run 0 "$TMP/root/usr/bin/clockbound" --version
run 0 man -l "$TMP/root/usr/share/man/man8/oracled.8.gz"
contains "$OUT" "max-drift-ppb" "the man page"
# A program built against the packaged header and library, found through its .pc file.
cat >"$TMP/use.c" <<'C'
#include <oracle/client.h>
#include <stdio.h>
int main(void) { struct oracle_client *c = NULL; (void)c; puts("linked"); return 0; }
C
pc=$TMP/root/usr/lib/pkgconfig
# shellcheck disable=SC2046 # pkg-config's flags are words
run 0 cc -o "$TMP/use" "$TMP/use.c" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs oracle-client)
run 0 env LD_LIBRARY_PATH="$TMP/root/usr/lib" "$TMP/use"
pass "the Debian package ($(basename "$deb"), $(wc -l <"$TMP/contents") paths): programs, library," \
    "header, unit, conffile, man pages, operator files; Depends from shlibdeps; packaged" \
    "oracled --version runs"
echo "all $CHECKS checks passed"
