"""Reads the output of `kubectl kustomize deploy/kubernetes`.

  rendered_objects.py check FILE         checks every object the base must render
  rendered_objects.py capabilities FILE  prints the sproutd container's added
                                         capabilities, one a line
  rendered_objects.py script NAME FILE   prints the file NAME of the rendered
                                         ConfigMaps (the entrypoint script)

`check` prints one line per failed expectation and exits 1 if there was
one; each expectation states a claim of docs/deploy.md.
"""

import sys

import yaml

# The pod must outlive the drain: drain_timeout_ms plus time to stop.
DRAIN_TIMEOUT_S = 30


def load(path):
    with open(path, encoding="utf-8") as rendered:
        return [doc for doc in yaml.safe_load_all(rendered) if doc]


def only(objects, kind, failures):
    found = [o for o in objects if o.get("kind") == kind]
    if len(found) != 1:
        failures.append(f"expected one {kind}, rendered {len(found)}")
        return None
    return found[0]


def container(pod_spec, name):
    for candidate in pod_spec.get("containers", []):
        if candidate.get("name") == name:
            return candidate
    return None


def sproutd_container(objects):
    daemonset = next(o for o in objects if o.get("kind") == "DaemonSet")
    return container(daemonset["spec"]["template"]["spec"], "sproutd")


def parse_config(text):
    """The scalar fields of a DaemonConfig text (no nested messages used)."""
    fields = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip().strip('"')
    return fields


def check_probe(name, probe, failures):
    if not probe:
        failures.append(f"sproutd has no {name}")
        return
    command = probe.get("exec", {}).get("command", [])
    # Over loopback inside the pod: from the kubelet's address sproutd would
    # ask for a SigV4 signature (docs/http.md), and an httpGet probe has none.
    if "http://127.0.0.1:9000/healthz" not in command or command[0] != "curl":
        failures.append(f"{name} does not curl /healthz over loopback: {command}")
    if "-f" not in " ".join(command):
        failures.append(f"{name} does not fail on an HTTP error (curl -f): {command}")


def check(objects):
    failures = []
    namespace = only(objects, "Namespace", failures)
    daemonset = only(objects, "DaemonSet", failures)
    monitor = only(objects, "PodMonitor", failures)
    if not (namespace and daemonset and monitor):
        return failures
    ns_name = namespace["metadata"]["name"]
    for obj in objects:
        if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != ns_name:
            failures.append(f"{obj['kind']} {obj['metadata']['name']} is not in {ns_name}")

    spec = daemonset["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for key, value in spec["selector"]["matchLabels"].items():
        if labels.get(key) != value:
            failures.append(f"the selector's {key}={value} is not on the pod template")

    # Rolling updates one node at a time, never two pods on one node.
    strategy = spec.get("updateStrategy", {})
    rolling = strategy.get("rollingUpdate", {})
    if strategy.get("type") != "RollingUpdate" or rolling.get("maxSurge", 0) not in (0, "0"):
        failures.append(f"updateStrategy must be RollingUpdate with maxSurge 0: {strategy}")

    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= DRAIN_TIMEOUT_S:
        failures.append(f"terminationGracePeriodSeconds {grace} is not above the "
                        f"{DRAIN_TIMEOUT_S} s drain")
    for host_ns in ("hostPID", "hostIPC", "hostNetwork"):
        if pod.get(host_ns):
            failures.append(f"{host_ns} is set; sproutd needs none of the node's namespaces")
    if pod.get("automountServiceAccountToken") is not False:
        failures.append("the pod mounts a service account token it never uses")

    sproutd = container(pod, "sproutd")
    if not sproutd:
        return failures + ["no container named sproutd"]
    security = sproutd.get("securityContext", {})
    if security.get("privileged"):
        failures.append("sproutd runs privileged; it must run with its capabilities only")
    capabilities = security.get("capabilities", {})
    if capabilities.get("drop") != ["ALL"]:
        failures.append(f"sproutd does not drop ALL capabilities first: {capabilities}")
    added = sorted(capabilities.get("add", []))
    if added != sorted(set(added)) or not added:
        failures.append(f"capabilities.add is empty or repeats one: {added}")
    if security.get("seccompProfile", {}).get("type") != "Unconfined":
        failures.append("sproutd's seccomp profile must be Unconfined (its own filters apply)")
    if security.get("appArmorProfile", {}).get("type") != "Unconfined":
        failures.append("sproutd's AppArmor profile must be Unconfined (mount)")
    if security.get("runAsUser") != 0:
        failures.append("sproutd must run as uid 0 of the node (host id range)")
    if "SYS_ADMIN" in added and security.get("allowPrivilegeEscalation") is False:
        failures.append("the API refuses allowPrivilegeEscalation: false with SYS_ADMIN")

    check_probe("readinessProbe", sproutd.get("readinessProbe"), failures)
    check_probe("livenessProbe", sproutd.get("livenessProbe"), failures)
    liveness = sproutd.get("livenessProbe") or {}
    patience = liveness.get("periodSeconds", 10) * liveness.get("failureThreshold", 3)
    if patience <= DRAIN_TIMEOUT_S:
        failures.append(f"liveness gives up after {patience} s, within a drain "
                        f"({DRAIN_TIMEOUT_S} s) of /healthz answering 503")

    ports = {p.get("name"): p for p in sproutd.get("ports", [])}
    http = ports.get("http", {})
    if http.get("containerPort") != 9000 or http.get("hostPort") != 9000:
        failures.append(f"the HTTP front door is not on the node's port 9000: {http}")

    # The volumes: socket and state dir on the node, config from the ConfigMap.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m["name"] for m in sproutd.get("volumeMounts", [])}
    config_maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    config_volume = volumes.get(mounts.get("/etc/sprout"), {}).get("configMap", {})
    config_map = config_maps.get(config_volume.get("name"))
    if not config_map or "sproutd.conf" not in config_map.get("data", {}):
        failures.append("/etc/sprout is not the ConfigMap holding sproutd.conf")
        return failures
    config = parse_config(config_map["data"]["sproutd.conf"])
    for key, host_path in (("socket_path", "/run/sprout"), ("state_dir", "/var/lib/sprout")):
        directory = config.get(key, "").rsplit("/", 1)[0] if key == "socket_path" \
            else config.get(key, "")
        volume = volumes.get(mounts.get(directory), {})
        if volume.get("hostPath", {}).get("path") != host_path:
            failures.append(f"{key} {config.get(key)} is not on the node's {host_path} "
                            f"(hostPath): {volume}")
    if config.get("http_listen") != "0.0.0.0:9000":
        failures.append(f"http_listen is {config.get('http_listen')}, not the pod's port 9000")
    if int(config.get("drain_timeout_ms", "30000")) != DRAIN_TIMEOUT_S * 1000:
        failures.append("drain_timeout_ms changed: change DRAIN_TIMEOUT_S and the grace period")
    uncommented = [line.split("#", 1)[0] for line in config_map["data"]["sproutd.conf"].splitlines()]
    if any("http_credentials" in line for line in uncommented):
        failures.append("a secret (http_credentials) is in the ConfigMap")

    scripts_volume = volumes.get(mounts.get("/opt/sprout-k8s"), {}).get("configMap", {})
    scripts = config_maps.get(scripts_volume.get("name"), {}).get("data", {})
    for script in ("sproutd-entrypoint.sh", "metrics-relay.py"):
        if script not in scripts:
            failures.append(f"{script} is not in the scripts ConfigMap")
    if "sproutd-entrypoint.sh" not in " ".join(sproutd.get("command", [])):
        failures.append("sproutd does not start through its entrypoint script")

    # Prometheus scrapes the relay's port, which serves /metrics only.
    relay = container(pod, "metrics-relay")
    relay_ports = [p.get("name") for p in (relay or {}).get("ports", [])]
    endpoints = monitor["spec"].get("podMetricsEndpoints", [])
    if not relay or "metrics" not in relay_ports:
        failures.append("no metrics-relay container with a port named metrics")
    if [e.get("port") for e in endpoints] != ["metrics"] or endpoints[0].get("path") != "/metrics":
        failures.append(f"the PodMonitor does not scrape port metrics /metrics: {endpoints}")
    if monitor["spec"]["selector"].get("matchLabels") != spec["selector"]["matchLabels"]:
        failures.append("the PodMonitor does not select the DaemonSet's pods")
    relay_security = (relay or {}).get("securityContext", {})
    if relay_security.get("runAsNonRoot") is not True or \
            relay_security.get("capabilities", {}).get("drop") != ["ALL"]:
        failures.append("the metrics relay must run as non-root with no capabilities")
    # PID 1 that ignores SIGTERM would hold every pod deletion for the
    # whole grace period.
    if (relay or {}).get("command", [""])[0] != "/usr/bin/tini":
        failures.append("the metrics relay does not run under tini")
    failures += check_network_policy(only(objects, "NetworkPolicy", failures), spec)
    failures += check_priority_quota(only(objects, "ResourceQuota", failures), pod)
    return failures


def check_network_policy(policy, spec):
    """The relay serves /metrics unauthenticated: only Prometheus's
    namespace may reach port 9100; port 9000 (SigV4) stays open."""
    if not policy:
        return []
    failures = []
    if policy["spec"].get("podSelector", {}).get("matchLabels") != spec["selector"]["matchLabels"]:
        failures.append("the NetworkPolicy does not select the DaemonSet's pods")
    for rule in policy["spec"].get("ingress", []):
        ports = [p.get("port") for p in rule.get("ports", [])]
        if 9100 in ports:
            sources = rule.get("from", [])
            if not sources or any("namespaceSelector" not in s for s in sources):
                failures.append(f"port 9100 is open beyond Prometheus's namespace: {rule}")
        elif ports != [9000]:
            failures.append(f"the NetworkPolicy opens more than ports 9000 and 9100: {rule}")
    return failures


def check_priority_quota(quota, pod):
    """A namespace other than kube-system needs a quota scoped to the
    critical class for its pods to be admitted where that class is limited."""
    if not quota:
        return []
    expressions = quota["spec"].get("scopeSelector", {}).get("matchExpressions", [])
    scoped = [e for e in expressions if e.get("scopeName") == "PriorityClass"]
    if not scoped or pod.get("priorityClassName") not in scoped[0].get("values", []):
        return [f"no ResourceQuota scoped to {pod.get('priorityClassName')}: {expressions}"]
    return []


def print_config_map_file(objects, name):
    for obj in objects:
        if obj["kind"] == "ConfigMap" and name in obj.get("data", {}):
            sys.stdout.write(obj["data"][name])
            return
    sys.exit(f"no ConfigMap holds {name}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "script":
        print_config_map_file(load(sys.argv[3]), sys.argv[2])
        return
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "capabilities"):
        sys.exit(__doc__)
    objects = load(sys.argv[2])
    if sys.argv[1] == "capabilities":
        for capability in sproutd_container(objects)["securityContext"]["capabilities"]["add"]:
            print(capability)
        return
    failures = check(objects)
    for failure in failures:
        print("FAIL:", failure)
    kinds = sorted(o["kind"] for o in objects)
    print(f"{len(objects)} objects rendered: {', '.join(kinds)}; "
          f"{len(failures)} failed expectation(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
