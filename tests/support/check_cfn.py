#!/usr/bin/env python3
"""Checks deploy/aws/oracled.yaml (CloudFormation) against oracled's own settings.

Usage: check_cfn.py TEMPLATE ORACLED_CONF ORACLED_HELP_FILE UNIT_FILE
Prints one line per check; exits 1 on the first failure, naming it.
"""
import re
import sys

import yaml


class Tag:
    """A CloudFormation short-form function (!Ref, !Sub, ...) kept as tag + value."""

    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return f"{self.tag} {self.value!r}"


class Loader(yaml.SafeLoader):
    pass


def construct_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag("!" + suffix, value)


Loader.add_multi_constructor("!", construct_tag)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}")


def ref(name):
    return Tag("!Ref", name)


def resources(t, rtype):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == rtype}


def one(t, rtype):
    found = resources(t, rtype)
    if len(found) != 1:
        fail(f"expected one {rtype}, found {len(found)}")
    return next(iter(found.items()))


def attrs(props, key):
    return {a["Key"]: a["Value"] for a in props.get(key, [])}


def conf_value(conf_text, key):
    m = re.search(rf"^{re.escape(key)}\s*=\s*(\S+)", conf_text, re.M)
    if not m:
        fail(f"oracled.conf has no {key}")
    return m.group(1)


def seconds(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    if not m:
        fail(f"cannot read the duration {duration}")
    n, unit = int(m.group(1)), m.group(2)
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        t = yaml.load(f, Loader=Loader)
    conf = open(sys.argv[2]).read()
    helptext = open(sys.argv[3]).read()
    unit = open(sys.argv[4]).read()
    params = t["Parameters"]

    # Ports: the template's defaults are oracled's.
    port = int(re.search(r"--listen HOST:PORT.*?\(default [\d.]+:(\d+)\)", helptext, re.S).group(1))
    http = int(re.search(r"--http-listen HOST:PORT.*?\(default [\d.]+:(\d+)\)", helptext, re.S).group(1))
    check(params["OraclePort"]["Default"] == port, f"OraclePort default = oracled's --listen port {port}")
    check(params["HttpPort"]["Default"] == http, f"HttpPort default = oracled's --http-listen port {http}")

    # The NLB: internal, network, cross-zone off.
    _, lb = one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    p = lb["Properties"]
    check(p["Type"] == "network" and p["Scheme"] == "internal", "an internal Network Load Balancer")
    check(attrs(p, "LoadBalancerAttributes").get("load_balancing.cross_zone.enabled") == "false",
          "cross-zone load balancing off on the NLB")
    check(len(p["Subnets"]) == 3, "the NLB in three subnets (zones)")
    check(attrs(p, "LoadBalancerAttributes").get("dns_record.client_routing_policy")
          == "availability_zone_affinity", "clients resolve the NLB to their own zone's address")

    # The listener: TCP on the oracle port, forwarding to the target group.
    _, ln = one(t, "AWS::ElasticLoadBalancingV2::Listener")
    p = ln["Properties"]
    check(p["Protocol"] == "TCP" and p["Port"] == ref("OraclePort"), "a TCP listener on OraclePort")

    # The target group's health check.
    tg_name, tg = one(t, "AWS::ElasticLoadBalancingV2::TargetGroup")
    p = tg["Properties"]
    check(p["Protocol"] == "TCP" and p["Port"] == ref("OraclePort"), "targets on OraclePort")
    check(p["HealthCheckProtocol"] == "HTTP" and p["HealthCheckPath"] == "/healthz"
          and p["HealthCheckPort"] == ref("HttpPort"), "health check: HTTP GET /healthz on HttpPort")
    interval, timeout = p["HealthCheckIntervalSeconds"], p["HealthCheckTimeoutSeconds"]
    healthy, unhealthy = p["HealthyThresholdCount"], p["UnhealthyThresholdCount"]
    # The shortest the NLB allows: interval 5-300 s, timeout 2-120 s, thresholds 2-10.
    check((interval, timeout, healthy, unhealthy) == (5, 2, 2, 2),
          "the shortest health check the NLB allows (every 5 s, 2 s timeout, thresholds 2)")
    tga = attrs(p, "TargetGroupAttributes")
    check(tga.get("load_balancing.cross_zone.enabled") == "false", "cross-zone off on the target group")
    # No reset of a client's connection on either path: a reset loses the commit-waits in
    # flight. oracled ends its connections itself (SHUTTING_DOWN, retriable) after its drain.
    check(tga.get("deregistration_delay.connection_termination.enabled") == "false",
          "no connection reset at the end of deregistration (a scale-in)")
    check(tga.get("target_health_state.unhealthy.connection_termination.enabled") == "false",
          "no connection reset when a target turns unhealthy (a stop, an untrusted clock)")
    check(tga.get("deregistration_delay.timeout_seconds") == ref("DeregistrationDelaySeconds"),
          "deregistration delay from its parameter")
    check(tga.get("target_health_state.unhealthy.draining_interval_seconds")
          == ref("UnhealthyDrainingSeconds"), "unhealthy draining interval from its parameter")

    # Drain settings agree. oracled's drain outlasts the NLB's detection and the new
    # connections that may still come after it (up to 40 s, an AWS review measured); the NLB
    # keeps connections longer than the drain plus the commit-waits and last writes (1 s);
    # systemd waits longer than that; AWS recommends draining times of at least 120 s.
    late_flows = 40
    drain = params["DrainDelaySeconds"]["Default"]
    detect = (unhealthy + 1) * interval
    check(drain >= detect + late_flows and params["DrainDelaySeconds"]["MinValue"] >= detect + late_flows,
          f"drain delay {drain} s >= (unhealthy threshold + 1) x interval + {late_flows} s = "
          f"{detect + late_flows} s")
    check(seconds(conf_value(conf, "drain-delay")) == drain,
          f"oracled.conf's drain-delay = the template's DrainDelaySeconds ({drain} s)")
    max_wait = seconds(conf_value(conf, "max-wait"))
    finish = drain + max_wait + 1
    for name in ("UnhealthyDrainingSeconds", "DeregistrationDelaySeconds"):
        value, low = params[name]["Default"], params[name]["MinValue"]
        check(value >= 120 and low >= 120 and low > detect + finish,
              f"{name} {value} s (min {low}) >= 120 s and > detection + drain + max-wait + 1 s")
    stop = seconds(re.search(r"^TimeoutStopSec=(\S+)", unit, re.M).group(1))
    check(stop > finish, f"the unit's TimeoutStopSec {stop} s > drain + max-wait + 1 s")
    userdata = t["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    script = userdata["Fn::Base64"].value
    check("--drain-delay ${DrainDelaySeconds}s" in script and "TimeoutStopSec" in script
          and "${DrainDelaySeconds} + 30" in script,
          "the instances get the drain delay and a TimeoutStopSec 30 s above it")
    check("/etc/oracled/oracled.conf" not in script and "ORACLED_OPTS" in script
          and "oracled.service.d/" in script and "$ORACLED_OPTS" in unit,
          "the stack's settings in a systemd drop-in (ORACLED_OPTS), the conffile left as shipped")
    check("ec2-${TimeSource}.conf" in script and params["TimeSource"]["AllowedValues"] == ["ntp", "phc"],
          "chrony from deploy/chrony, one TimeSource for the stack")

    # One Auto Scaling group per zone, each registered with the target group.
    groups = resources(t, "AWS::AutoScaling::AutoScalingGroup")
    subnets = sorted(g["Properties"]["VPCZoneIdentifier"][0].value for g in groups.values())
    check(subnets == ["SubnetA", "SubnetB", "SubnetC"]
          and all(len(g["Properties"]["VPCZoneIdentifier"]) == 1 for g in groups.values()),
          "one Auto Scaling group per zone")
    check(all(g["Properties"]["TargetGroupARNs"] == [ref(tg_name)] for g in groups.values()),
          "every group registered with the target group")

    # Readiness and health. Each group is created, and rolled, only when its instances signal
    # that they serve; health is EC2's (an untrusted clock must not replace instances: a zone's
    # time-source outage would become a replacement storm), and an instance that never gets
    # ready or whose oracled fails for good marks itself unhealthy.
    for name, g in groups.items():
        cp = g.get("CreationPolicy", {}).get("ResourceSignal", {})
        up = g.get("UpdatePolicy", {}).get("AutoScalingRollingUpdate", {})
        gp = g["Properties"]
        check(cp.get("Count") == ref("InstancesPerZone") and cp.get("Timeout"),
              f"{name}: created only when every instance has signalled")
        check(up.get("WaitOnResourceSignals") is True and up.get("MaxBatchSize") == 1
              and up.get("MinInstancesInService") == ref("MinInServiceDuringUpdate"),
              f"{name}: a new launch template rolls out one instance at a time, on signals")
        check(gp["HealthCheckType"] == "EC2", f"{name}: EC2 health checks, not ELB")
        check({"Key": "Service", "Value": "oracled", "PropagateAtLaunch": True} in gp.get("Tags", []),
              f"{name}: instances tagged Service=oracled (Prometheus's EC2 discovery)")
    check(params["InstancesPerZone"]["MinValue"] >= 2
          and params["MinInServiceDuringUpdate"]["MinValue"] >= 1,
          "two instances per zone at least, one kept serving during an update")
    check("signal SUCCESS" in script and "/healthz" in script
          and script.count("--no-should-respect-grace-period") == 2
          and "OnFailure=oracled-unhealthy.service" in script and "StartLimitBurst=" in script
          and "EXIT" in script and " ERR" not in script,
          "the boot script signals once /healthz is 200, and marks the instance unhealthy when "
          "oracled cannot be made to run")
    check("DPkg::Lock::Timeout" in script, "apt waits for the dpkg lock (unattended-upgrades)")
    check("dpkg-divert --local --rename" in script and "/etc/chrony/chrony.conf" in script,
          "chrony's conffile diverted, not overwritten (its upgrades never prompt)")
    check("no ENA PTP hardware clock" in script and "signal FAILURE" in script,
          "TimeSource=phc refused, saying why, where the ENA PHC is missing")
    lt = t["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    check(lt["MetadataOptions"] == {"HttpTokens": "required", "InstanceMetadataTags": "enabled"},
          "IMDSv2 only, instance tags readable (the group's logical ID)")

    # IAM: what the boot script needs, no more.
    role = t["Resources"]["InstanceRole"]["Properties"]
    check("ManagedPolicyArns" not in role, "no managed policies on the instance role")
    def unless_off(st):
        # A statement under !If [HasTls, it, AWS::NoValue]: there only with TLS on.
        if isinstance(st, Tag) and st.tag == "!If":
            check(st.value[0] == "HasTls" and st.value[2] == ref("AWS::NoValue"),
                  "a conditional statement only for TLS")
            return [st.value[1]]
        return [st]

    stmts = [x for pol in role["Policies"] for st in pol["PolicyDocument"]["Statement"]
             for x in unless_off(st)]
    actions = sorted(a for st in stmts for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]))
    check(actions == ["autoscaling:SetInstanceHealth", "cloudformation:SignalResource", "s3:GetObject",
                      "secretsmanager:GetSecretValue"],
          f"the instance role: {', '.join(actions)}")
    sm = next(st for st in stmts if st["Action"] == "secretsmanager:GetSecretValue")
    check(sm["Resource"] == ref("TlsSecretArn"), "Secrets Manager read on the TLS secret only")
    listener = one(t, "AWS::ElasticLoadBalancingV2::Listener")[1]["Properties"]
    check(listener["Protocol"] == "TCP", "the NLB listener is TCP: TLS passes through to oracled")
    s3 = next(st for st in stmts if st["Action"] == "s3:GetObject")
    check(isinstance(s3["Resource"], Tag) and "${PackageBucket}/${PackageKey}" in s3["Resource"].value,
          "S3 read on the package object only")

    # Security groups: nothing open to the world; the oracle port only from the database
    # subnets (at the NLB) and the NLB (at the instances).
    text = open(sys.argv[1]).read()
    check("0.0.0.0/0" not in text and "::/0" not in text, "no ingress open to the world")
    sgs = resources(t, "AWS::EC2::SecurityGroup")
    lb_sg = sgs["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    check([r["CidrIp"] for r in lb_sg] == [ref("DatabaseCidrA")]
          and all(r["FromPort"] == ref("OraclePort") == r["ToPort"] for r in lb_sg),
          "the NLB admits the oracle port from the database subnets only")
    inst = sgs["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    check(all(r.get("SourceSecurityGroupId") == ref("LoadBalancerSecurityGroup") for r in inst),
          "the instances admit traffic only from the NLB")
    extra = resources(t, "AWS::EC2::SecurityGroupIngress")
    check(all("Condition" in r and "CidrIp" in r["Properties"] for r in extra.values()),
          "further ingress only for the optional database subnets and the admin CIDR")
    print("all template checks passed")


main()
