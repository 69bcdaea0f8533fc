"""Validate rendered Kubernetes manifests offline: JSON schemas, references between objects, and rxlab's pod rules.

Usage: check.py [--kube-version V]... [--namespace NS] [--external-secret NAME]... [--release] RENDERED.yaml

1. Schemas: every object against the strict Kubernetes JSON schemas bundled in the kubernetes-validate package
   (unknown fields are errors; so is a kind without a schema), for each --kube-version.
2. References: ConfigMaps, Secrets (or --external-secret), PVCs and volumes that pods use exist; Services,
   NetworkPolicies and HPAs select or target something that exists; a Deployment scaled by an HPA has no
   spec.replicas; no two objects share kind/namespace/name; with --namespace every namespaced object is in it.
3. Pods (rxlab's rules): non-root, seccomp RuntimeDefault, no privilege escalation, every capability dropped,
   read-only root filesystem, CPU/memory requests and limits that fit a 2-core node, /tmp on an emptyDir;
   long-running containers have liveness and readiness probes (HTTP for the gateway, `healthcheck <name>` exec
   for a worker); with --release every image has an explicit tag other than `latest`.

Prints one line per finding and a summary; exits 1 if anything failed. Run by k8s/validate.sh.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import importlib_resources
import jsonschema
import yaml
from referencing import Registry, Resource

NODE_CPU_MILLI = 2000  # the nodes have 2 cores
POD_REQUEST_CPU_MAX = 1900  # what a 2-core node can give one pod, less the system reserve
TMP_PATH = "/tmp"  # noqa: S108 - the path every pod must mount from an emptyDir, not a file we use
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
DEFAULT_VERSION = "1.30.0"

Obj = dict[str, Any]


@dataclass
class Manifest:
    """The objects of one render, indexed the way the checks look them up."""

    objs: list[Obj]
    external_secrets: set[str]
    failures: list[str] = field(default_factory=list)

    def fail(self, obj: Obj | None, message: str) -> None:
        self.failures.append(f"{ident(obj)}: {message}" if obj else message)

    @functools.cached_property
    def names(self) -> dict[str, set[str]]:
        names: dict[str, set[str]] = collections.defaultdict(set)
        for o in self.objs:
            names[o["kind"]].add(o["metadata"]["name"])
        names["Secret"] |= self.external_secrets
        return names

    def of_kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objs if o["kind"] in kinds]

    @property
    def workloads(self) -> list[Obj]:
        return self.of_kind(*WORKLOAD_KINDS)


def ident(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {namespace}{meta.get('name')}"


def pod_template(obj: Obj) -> Obj:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    template: Obj = spec["template"]
    return template


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = pod_template(obj)["spec"]
    return spec


def pod_labels(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = pod_template(obj).get("metadata", {}).get("labels", {})
    return labels


def containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    """Yield (``initContainers`` | ``containers``, container) for every container of a pod spec."""
    for key in ("initContainers", "containers"):
        for container in spec.get(key, []):
            yield key, container


def matches(selector: Obj, labels: dict[str, str]) -> bool:
    """Label-selector semantics: matchLabels + matchExpressions, or a plain map (Service selectors)."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    tests: dict[str, Callable[[str, list[str]], bool]] = {
        "In": lambda k, vs: k in labels and labels[k] in vs,
        "NotIn": lambda k, vs: k not in labels or labels[k] not in vs,
        "Exists": lambda k, _: k in labels,
        "DoesNotExist": lambda k, _: k not in labels,
    }
    return all(tests[e["operator"]](e["key"], e.get("values", [])) for e in selector.get("matchExpressions", []))


def selects_a_pod(m: Manifest, selector: Obj) -> bool:
    return any(matches(selector, pod_labels(w)) for w in m.workloads)


def milli_cpu(value: object) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


# --- schemas -------------------------------------------------------------------------------------------------


def _schema_dir(version: str) -> Path:
    """The bundled strict schemas of the newest Kubernetes version not newer than ``version``."""
    root = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"
    wanted = tuple(int(x) for x in version.split(".")[:2])
    available = sorted(
        (tuple(int(x) for x in p.name[1:].split("-")[0].split(".")[:2]), p.name)
        for p in root.iterdir()
        if p.name.endswith("-local-strict")
    )
    usable = [name for ver, name in available if ver <= wanted]
    if not usable:
        raise SystemExit(f"no bundled schemas for Kubernetes {version} (the oldest is {available[0][1]})")
    return Path(str(root / usable[-1]))


@functools.cache
def _registry(version: str) -> Registry:
    definitions = json.loads((_schema_dir(version) / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    # The package's file names: apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1, v1 -> v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(version) / f"{kind.lower()}-{group_version}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=Resource.from_contents(schema) @ _registry(version))


def check_schemas(m: Manifest, versions: list[str]) -> None:
    for obj in m.objs:
        for version in versions:
            validator = _validator(version, obj["kind"], obj["apiVersion"])
            if validator is None:
                m.fail(obj, f"no schema for {obj['apiVersion']} {obj['kind']} in Kubernetes {version}")
                continue
            for error in sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.path]):
                where = ".".join(str(p) for p in error.path) or "(root)"
                m.fail(obj, f"schema {version}: {where}: {error.message}")


# --- references ------------------------------------------------------------------------------------------------


def check_unique(m: Manifest, namespace: str | None) -> None:
    keys = collections.Counter((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in m.objs)
    for (kind, ns, name), count in keys.items():
        if count > 1:
            m.fail(None, f"{kind} {ns}/{name} is defined {count} times")
    for o in m.objs:
        if namespace and o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != namespace:
            m.fail(o, f"not in namespace {namespace}")


def check_volumes(m: Manifest) -> None:
    sources = {"persistentVolumeClaim": ("claimName", "PersistentVolumeClaim"), "configMap": ("name", "ConfigMap")}
    sources["secret"] = ("secretName", "Secret")
    for o in m.workloads:
        spec = pod_spec(o)
        defined = {v["name"] for v in spec.get("volumes", [])}
        defined |= {t["metadata"]["name"] for t in o["spec"].get("volumeClaimTemplates", [])}
        for volume in spec.get("volumes", []):
            for source, (key, kind) in sources.items():
                if source in volume and volume[source][key] not in m.names[kind]:
                    m.fail(o, f"volume {volume['name']}: no {kind} {volume[source][key]}")
        for _, c in containers(spec):
            for mount in c.get("volumeMounts", []):
                if mount["name"] not in defined:
                    m.fail(o, f"container {c['name']}: mounts undefined volume {mount['name']}")


ENV_REF_KINDS = {
    "configMapRef": "ConfigMap",
    "secretRef": "Secret",
    "configMapKeyRef": "ConfigMap",
    "secretKeyRef": "Secret",
}


def env_refs(c: Obj) -> Iterator[tuple[str, str, str]]:
    """Yield (where, kind, name) for every ConfigMap or Secret a container's environment reads."""
    for source in c.get("envFrom", []):
        for key in source.keys() & ENV_REF_KINDS.keys():
            yield "envFrom", ENV_REF_KINDS[key], source[key]["name"]
    for env in c.get("env", []):
        value_from = env.get("valueFrom", {})
        for key in value_from.keys() & ENV_REF_KINDS.keys():
            yield f"env {env['name']}", ENV_REF_KINDS[key], value_from[key]["name"]


def check_env_sources(m: Manifest) -> None:
    for o in m.workloads:
        for _, c in containers(pod_spec(o)):
            for where, kind, name in env_refs(c):
                if name not in m.names[kind]:
                    m.fail(o, f"container {c['name']}: {where}: no {kind} {name}")


def check_services(m: Manifest) -> None:
    for svc in m.of_kind("Service"):
        targets = [w for w in m.workloads if matches(svc["spec"].get("selector", {}), pod_labels(w))]
        if not targets:
            m.fail(svc, "selects no pod")
            continue
        container_ports = [p for w in targets for _, c in containers(pod_spec(w)) for p in c.get("ports", [])]
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if not any(target in (p.get("name"), p.get("containerPort")) for p in container_ports):
                m.fail(svc, f"port {port.get('name')}: no container port {target} in the selected pods")
    for sts in m.of_kind("StatefulSet"):
        name = sts["spec"].get("serviceName")
        headless = [s for s in m.of_kind("Service") if s["metadata"]["name"] == name]
        if not headless or headless[0]["spec"].get("clusterIP") != "None":
            m.fail(sts, f"serviceName {name} is not a headless Service here")


def check_network_policies(m: Manifest) -> None:
    for policy in m.of_kind("NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        if selector and not selects_a_pod(m, selector):
            m.fail(policy, "podSelector matches no pod")
        peers = [p for r in policy["spec"].get("ingress", []) for p in r.get("from", [])]
        peers += [p for r in policy["spec"].get("egress", []) for p in r.get("to", [])]
        for peer in peers:
            same_namespace = "podSelector" in peer and "namespaceSelector" not in peer
            if same_namespace and not selects_a_pod(m, peer["podSelector"]):
                m.fail(policy, f"peer {peer['podSelector']} matches no pod")


def check_autoscalers(m: Manifest) -> None:
    for hpa in m.of_kind("HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        targets = [w for w in m.of_kind(ref["kind"]) if w["metadata"]["name"] == ref["name"]]
        if not targets:
            m.fail(hpa, f"targets missing {ref['kind']} {ref['name']}")
            continue
        if "replicas" in targets[0]["spec"]:
            m.fail(targets[0], "is scaled by an HPA but sets spec.replicas (re-applying would reset the scale)")
        for _, c in containers(pod_spec(targets[0])):
            if "cpu" not in c.get("resources", {}).get("requests", {}):
                m.fail(targets[0], f"container {c['name']}: no CPU request, which a CPU-utilization HPA needs")


# --- pods ------------------------------------------------------------------------------------------------------


def check_pod_settings(m: Manifest) -> None:
    for o in m.workloads:
        spec = pod_spec(o)
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            m.fail(o, "uses the host's network, PID or IPC namespace")
        if spec.get("automountServiceAccountToken") is not False:
            m.fail(o, "automountServiceAccountToken is not false (no rxlab pod talks to the API server)")
        requested = sum(
            milli_cpu(c.get("resources", {}).get("requests", {}).get("cpu", 0)) for c in spec.get("containers", [])
        )
        if requested > POD_REQUEST_CPU_MAX:
            m.fail(o, f"pod requests {requested}m CPU: more than a 2-core node can give")


def container_security_problems(c: Obj, pod_sc: Obj) -> Iterator[str]:
    sc = c.get("securityContext", {})
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        yield "runAsNonRoot is not true"
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        yield "runs as uid 0"
    seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
    if seccomp != "RuntimeDefault":
        yield f"seccompProfile is {seccomp}, not RuntimeDefault"
    if sc.get("allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false"
    if sc.get("privileged"):
        yield "privileged"
    if sc.get("readOnlyRootFilesystem") is not True:
        yield "readOnlyRootFilesystem is not true"
    caps = sc.get("capabilities", {})
    if "ALL" not in caps.get("drop", []) or caps.get("add"):
        yield "capabilities must drop ALL and add none"


def container_resource_problems(c: Obj, tmp_volumes: set[str]) -> Iterator[str]:
    resources = c.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                yield f"no {resource} {kind[:-1]}"
    limit = resources.get("limits", {}).get("cpu")
    if limit is not None and milli_cpu(limit) > NODE_CPU_MILLI:
        yield f"CPU limit {limit} exceeds a 2-core node"
    if not any(v["mountPath"] == TMP_PATH and v["name"] in tmp_volumes for v in c.get("volumeMounts", [])):
        yield f"{TMP_PATH} is not an emptyDir mount"


def image_problems(c: Obj) -> Iterator[str]:
    image = c.get("image", "")
    tag = "digest" if "@" in image else image.rsplit("/", 1)[-1].partition(":")[2]
    if not tag or tag == "latest":
        yield f"image {image} has no release tag"


def check_containers(m: Manifest, release: bool) -> None:
    for o in m.workloads:
        spec = pod_spec(o)
        tmp_volumes = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for key, c in containers(spec):
            problems = [*container_security_problems(c, spec.get("securityContext", {}))]
            problems += container_resource_problems(c, tmp_volumes)
            problems += image_problems(c) if release else []
            if key == "containers" and o["kind"] in LONG_RUNNING:
                problems += probe_problems(c, pod_labels(o))
            for problem in problems:
                m.fail(o, f"container {c['name']}: {problem}")


def probe_problems(c: Obj, labels: dict[str, str]) -> Iterator[str]:
    """Liveness and readiness probes exist; HTTP for the gateway (api), the celery ping role for a worker."""
    component, name = labels.get("app.kubernetes.io/component"), labels.get("app.kubernetes.io/name")
    for probe in ("livenessProbe", "readinessProbe"):
        if probe not in c:
            yield f"no {probe}"
    probes = {k: c[k] for k in ("livenessProbe", "readinessProbe", "startupProbe") if k in c}
    for probe, body in probes.items():
        if component == "api" and "httpGet" not in body:
            yield f"{probe} of the gateway is not an HTTP probe"
        if component == "worker" and body.get("exec", {}).get("command", [])[-2:] != ["healthcheck", name]:
            yield f"{probe} is not `rxlab-entrypoint healthcheck {name}` (celery inspect ping)"
    if component == "worker" and c.get("args", [None])[0] != name:
        yield f"args {c.get('args')} do not start the {name} role"


# --- main ------------------------------------------------------------------------------------------------------


def load(path: Path, external_secrets: set[str]) -> Manifest:
    objs = [o for o in yaml.safe_load_all(path.read_text()) if o]
    manifest = Manifest(objs=[], external_secrets=external_secrets)
    for o in objs:
        if isinstance(o, dict) and {"apiVersion", "kind", "metadata"} <= o.keys():
            manifest.objs.append(o)
        else:
            manifest.fail(None, f"not a Kubernetes object: {str(o)[:80]}")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rendered", type=Path)
    parser.add_argument("--kube-version", action="append", default=[], help=f"default {DEFAULT_VERSION}; repeatable")
    parser.add_argument("--namespace", help="every namespaced object must be in it")
    parser.add_argument("--external-secret", action="append", default=[], help="a Secret created out of band")
    parser.add_argument("--release", action="store_true", help="images must carry an explicit, non-latest tag")
    args = parser.parse_args()
    versions = args.kube_version or [DEFAULT_VERSION]

    m = load(args.rendered, set(args.external_secret))
    check_schemas(m, versions)
    check_unique(m, args.namespace)
    for check in (check_volumes, check_env_sources, check_services, check_network_policies, check_autoscalers):
        check(m)
    check_pod_settings(m)
    check_containers(m, args.release)

    for failure in m.failures:
        print(f"  FAIL {failure}")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(collections.Counter(o["kind"] for o in m.objs).items()))
    verdict = "FAILED" if m.failures else "ok"
    print(f"  {verdict}: {len(m.objs)} objects ({kinds}); schemas {', '.join(versions)}")
    return 1 if m.failures else 0


if __name__ == "__main__":
    sys.exit(main())
