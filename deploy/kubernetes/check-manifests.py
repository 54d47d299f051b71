#!/usr/bin/env python3
"""Offline checks of Speedboat's Kubernetes manifests (deploy/kubernetes/).

  check-manifests.py RENDERED.yaml        what `kubectl kustomize DIR` printed
  check-manifests.py --kustomize DIR      without kubectl: resources, generators, images,
                                          replicas and JSON6902 patches applied here

Every document must parse and name itself; every image must be the one deploy/Dockerfile
builds; every volume, mounted file, Secret or ConfigMap name and key, named port, probe port,
Service selector, StatefulSet serviceName, NetworkPolicy selector and the controller's --agents
Service:port must refer to something the manifests define. Prints each problem and exits 1, or
prints a one-line summary and exits 0. Needs python3-yaml only.
"""
import json
import os
import sys

import yaml

IMAGE = "speedboat"  # the image name deploy/Dockerfile builds (tag free)
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet")


def load_kustomization(path):
    """A poor man's kustomize: enough of it for our base and overlays."""
    with open(os.path.join(path, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    docs = []
    for r in k.get("resources", []):
        p = os.path.join(path, r)
        if os.path.isdir(p):
            docs += load_kustomization(p)
        else:
            with open(p) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for g in k.get(key, []):
            data = {}
            for lit in g.get("literals", []):
                name, _, value = lit.partition("=")
                data[name] = value
            for fpath in g.get("files", []):
                name, _, src = fpath.rpartition("=") if "=" in fpath else ("", "", fpath)
                with open(os.path.join(path, src)) as f:
                    data[name or os.path.basename(src)] = f.read()
            old = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == g["name"]]
            if g.get("behavior") == "merge" and old:
                old[0].setdefault("data", {}).update(data)
                continue
            docs = [d for d in docs if d not in old]
            docs.append({"apiVersion": "v1", "kind": kind, "metadata": {"name": g["name"]}, "data": data})
    for rep in k.get("replicas", []):
        for d in docs:
            if d["metadata"]["name"] == rep["name"] and "replicas" in d.get("spec", {}):
                d["spec"]["replicas"] = rep["count"]
    for p in k.get("patches", []):
        t = p.get("target", {})
        ops = yaml.safe_load(p["patch"])
        for d in docs:
            if d["kind"] == t.get("kind") and d["metadata"]["name"] == t.get("name"):
                for op in ops:
                    json_patch(d, op)
    for img in k.get("images", []):
        for d in docs:
            for c in containers(d):
                if c.get("image", "").split(":")[0] == img["name"]:
                    c["image"] = img.get("newName", img["name"]) + ":" + str(img.get("newTag", "latest"))
    return docs


def json_patch(doc, op):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        idx = len(node) if last == "-" else int(last)
        if op["op"] == "add":
            node.insert(idx, op["value"])
        else:
            node[idx] = op["value"]
    elif op["op"] in ("add", "replace"):
        node[last] = op["value"]
    else:
        raise ValueError("unsupported patch op " + op["op"])


def pod_spec(d):
    if d.get("kind") not in WORKLOADS:
        return None
    return d["spec"]["template"]["spec"]


def containers(d):
    spec = pod_spec(d)
    return (spec.get("initContainers", []) + spec.get("containers", [])) if spec else []


def keys_of(d):
    return set(d.get("data", {}) or {}) | set(d.get("stringData", {}) or {})


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


class Checker:
    def __init__(self, docs):
        self.docs, self.problems, self.checked = docs, [], 0

    def expect(self, ok, what):
        self.checked += 1
        if not ok:
            self.problems.append(what)

    def find(self, kind, name):
        return next((d for d in self.docs if d.get("kind") == kind and d["metadata"]["name"] == name), None)

    def pods(self):
        return [(d, d["spec"]["template"]) for d in self.docs if pod_spec(d)]

    def check_docs(self):
        seen = set()
        for d in self.docs:
            ok = isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name")
            self.expect(ok, "a document without apiVersion, kind or metadata.name: %r" % (d,)[:200])
            if ok:
                key = (d["kind"], d["metadata"]["name"])
                self.expect(key not in seen, "%s/%s is defined twice" % key)
                seen.add(key)

    def check_ref(self, where, kind, name, keys):
        ref = self.find(kind, name)
        self.expect(ref is not None, "%s: %s %s is not defined" % (where, kind, name))
        for k in keys if ref else []:
            self.expect(k in keys_of(ref), "%s: %s %s has no key %r" % (where, kind, name, k))

    def check_pod(self, d, tmpl):
        spec, where = tmpl["spec"], "%s/%s" % (d["kind"], d["metadata"]["name"])
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            for kind, field, name_key in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                if field in v:
                    items = [i["key"] for i in v[field].get("items", [])]
                    self.check_ref(where + " volume " + v["name"], kind, v[field][name_key], items)
        for c in containers(d):
            self.check_container(where + " container " + c["name"], c, volumes)

    def check_container(self, where, c, volumes):
        image = c.get("image", "")
        self.expect(image.split("@")[0].split(":")[0].rsplit("/", 1)[-1] == IMAGE,
                    "%s: image %r is not the %r image deploy/Dockerfile builds" % (where, image, IMAGE))
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for e in c.get("env", []):
            ref = e.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                self.check_ref(where + " env " + e["name"], "ConfigMap", ref["configMapKeyRef"]["name"], [ref["configMapKeyRef"]["key"]])
            if "secretKeyRef" in ref:
                self.check_ref(where + " env " + e["name"], "Secret", ref["secretKeyRef"]["name"], [ref["secretKeyRef"]["key"]])
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            port = c.get(probe, {}).get("httpGet", c.get(probe, {}).get("tcpSocket", {})).get("port")
            if port is not None:
                self.expect(port in ports or port in ports.values(), "%s: %s port %r is not a container port" % (where, probe, port))
        mounts = {}
        for m in c.get("volumeMounts", []):
            self.expect(m["name"] in volumes, "%s: volumeMount %r has no volume" % (where, m["name"]))
            mounts[m["mountPath"].rstrip("/")] = volumes.get(m["name"], {})
        for arg in c.get("args", []) + c.get("command", []):
            self.check_arg(where, arg, ports, mounts)

    def check_arg(self, where, arg, ports, mounts):
        flag, _, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if flag in ("--listen", "--health"):
            self.expect(int(value.rsplit(":", 1)[1]) in ports.values(), "%s: %s port is not a container port" % (where, arg))
        if flag == "--agents":
            host, _, port = value.partition(":")
            svc = self.find("Service", host.split(".")[0])
            self.expect(svc is not None, "%s: %s names no Service" % (where, arg))
            if svc:
                self.expect(int(port) in [p["port"] for p in svc["spec"]["ports"]], "%s: %s: the Service has no port %s" % (where, arg, port))
        for mount, vol in mounts.items():
            if value.startswith(mount + "/"):
                items = (vol.get("secret") or vol.get("configMap") or {}).get("items")
                if items is not None:
                    rel = value[len(mount) + 1:]
                    self.expect(rel in [i["path"] for i in items], "%s: %s: no item %r in volume %s" % (where, arg, rel, vol.get("name")))

    def check_services(self):
        pods = self.pods()
        for s in (d for d in self.docs if d.get("kind") == "Service"):
            where = "Service/" + s["metadata"]["name"]
            match = [t for _, t in pods if matches(s["spec"].get("selector"), t["metadata"].get("labels", {}))]
            self.expect(match, where + ": its selector matches no pod template")
            names = {p.get("name") for t in match for c in t["spec"]["containers"] for p in c.get("ports", [])}
            for p in s["spec"]["ports"]:
                tp = p.get("targetPort", p["port"])
                self.expect(not isinstance(tp, str) or tp in names, "%s: targetPort %r is no container's port" % (where, tp))
        for d in (d for d in self.docs if d.get("kind") == "StatefulSet"):
            svc = self.find("Service", d["spec"].get("serviceName", ""))
            self.expect(svc is not None and svc["spec"].get("clusterIP") == "None",
                        "StatefulSet/%s: serviceName is not a headless Service" % d["metadata"]["name"])
            self.expect(matches(d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]),
                        "StatefulSet/%s: its selector does not match its pods" % d["metadata"]["name"])

    def check_network_policies(self):
        labels = [t["metadata"].get("labels", {}) for _, t in self.pods()]
        for n in (d for d in self.docs if d.get("kind") == "NetworkPolicy"):
            where = "NetworkPolicy/" + n["metadata"]["name"]
            sel = n["spec"]["podSelector"].get("matchLabels", {})
            self.expect(any(matches(sel, l) for l in labels), where + ": podSelector matches no pods")
            for rule in n["spec"].get("ingress", []):
                for f in rule.get("from", []):
                    fs = f.get("podSelector", {}).get("matchLabels")
                    if fs:
                        self.expect(any(matches(fs, l) for l in labels), where + ": a from.podSelector matches no pods")


def main(argv):
    if len(argv) == 3 and argv[1] == "--kustomize":
        docs, src = load_kustomization(argv[2]), argv[2]
    elif len(argv) == 2:
        with open(argv[1]) as f:
            docs, src = [d for d in yaml.safe_load_all(f) if d], argv[1]
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    c = Checker(docs)
    c.check_docs()
    for d, tmpl in c.pods():
        c.check_pod(d, tmpl)
    c.check_services()
    c.check_network_policies()
    for p in c.problems:
        print("%s: %s" % (src, p), file=sys.stderr)
    if not c.problems:
        kinds = sorted({d["kind"] for d in docs})
        print("%s: ok: %d documents (%s), %d checks" % (src, len(docs), ", ".join(kinds), c.checked))
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
