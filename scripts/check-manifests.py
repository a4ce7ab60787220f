#!/usr/bin/python3
"""make manifest-check: the delivery files are hardened and agree with each other.

Reads k8s/ (a Kustomize base and the overlays k8s/overlays/dev and k8s/overlays/prod),
docker-compose*.yml, Dockerfile, .dockerignore, .github/workflows/*.yml, README.md and src/
(no cluster, no Docker engine needed). Each overlay is built, with `kubectl kustomize` when
kubectl is installed and always with the small built-in builder below (resources, namespace,
images, strategic-merge patches: the subset the overlays use); when both ran their outputs must
agree. The checks run on each overlay's build output and assert:
  - every pod (Deployment, StatefulSet, Job) runs non-root with seccomp RuntimeDefault, no
    privilege escalation, all capabilities dropped, resources set; the messenger containers
    also run as uid 10001 with a read-only root filesystem and port 8000 only;
  - the server Deployment: RollingUpdate with maxUnavailable 0, readiness on /ready, liveness
    and startup on /health, a preStop drain shorter than the grace period, Prometheus scrape
    annotations for /metrics on 8000;
  - prod: 2+ replicas, HPA, PDB, resource limits, the Cassandra StatefulSet and migration Job,
    Redis, a send rate limit (MESSENGER_SEND_RATE > 0); dev: 1 replica, no resource limits
    (requests only), and SQLite is allowed only there (one replica, no HPA);
  - replicas share one store: a Deployment with replicas > 1 or an HPA resolves
    MESSENGER_STORE=cassandra, mounts no persistent volume (no per-pod SQLite file) and sets
    no MESSENGER_NODE_ID (each pod leases its own);
  - Service, PDB, HPA, NetworkPolicy and Job match the Deployment; Cassandra is a StatefulSet
    behind a headless Service that CASSANDRA_CONTACT_POINTS names;
  - every env name that a manifest or compose file sets is documented in README.md and read
    by the program (a string literal in src/) or specified by the contract (../shared/API.md);
  - one image name (messenger) and one port (8000) across k8s, compose, Dockerfile, workflows;
  - the Dockerfile builds with exactly `make deps` and `make build` and ships a hardened runtime;
  - the workflows parse and have the expected jobs, pinned actions, push on main only.
`--self-test` breaks copies of the files in memory and checks that each break is reported.
Exit status 1 with one line per problem, 0 with a summary line otherwise.
"""
import copy
import glob
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
IMAGE = "messenger"
PORT = 8000
UID = 10001
NODE_IDS = 32  # message ids carry a 5-bit node number (src/core/ids.h)
RUNTIME_LIBS = {"libmicrohttpd12", "libjansson4", "libsqlite3-0", "libuv1", "liblz4-1", "zlib1g",
                "libuuid1", "libhiredis0.14", "libssl3", "tini"}
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
OVERLAYS = ("dev", "prod")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
# Strategic-merge keys of the lists the overlays patch (the Kubernetes API's patchMergeKey).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
              "volumeMounts": "mountPath", "ports": "containerPort"}


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def strings(node):
    """All scalar strings in a parsed YAML tree, joined by newlines (for substring checks)."""
    if isinstance(node, dict):
        return "\n".join(f"{k}: {strings(v)}" if not isinstance(v, (dict, list)) else f"{k}:\n{strings(v)}"
                         for k, v in node.items())
    if isinstance(node, list):
        return "\n".join(strings(v) for v in node)
    return str(node)


def smp_merge(target, patch, key=None):
    """Strategic merge of `patch` into `target` (in place): maps merge, null deletes, lists of
    MERGE_KEYS merge by their key, other lists are replaced."""
    if isinstance(target, dict) and isinstance(patch, dict):
        for k, v in patch.items():
            if v is None:
                target.pop(k, None)
            elif k in target and isinstance(v, (dict, list)):
                target[k] = smp_merge(target[k], v, k)
            else:
                target[k] = copy.deepcopy(v)
        return target
    if isinstance(target, list) and isinstance(patch, list) and key in MERGE_KEYS:
        mk = MERGE_KEYS[key]  # as kubectl: the patch's items first (merged or new), then the others
        keys = {item.get(mk) for item in patch if isinstance(item, dict)}
        merged = []
        for item in patch:
            match = [t for t in target if isinstance(t, dict) and isinstance(item, dict) and t.get(mk) == item.get(mk)]
            merged.append(smp_merge(match[0], item, None) if match else copy.deepcopy(item))
        return merged + [t for t in target if not (isinstance(t, dict) and t.get(mk) in keys)]
    return copy.deepcopy(patch)


def set_image(doc, images):
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        image = str(c.get("image", ""))
        name = image.split("@")[0]
        name = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        for img in images:
            if img.get("name") == name:
                tag = img.get("newTag", image.split("@")[0].rsplit(":", 1)[-1] if ":" in image else "")
                c["image"] = img.get("newName", name) + (":" + str(tag) if tag else "")


def kustomize_build(directory):
    """The built-in builder: the documents of the kustomization in `directory` (repo-relative)."""
    kust = yaml.safe_load(read(os.path.join(directory, "kustomization.yaml"))) or {}
    docs = []
    for res in kust.get("resources") or []:
        path = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(os.path.join(ROOT, path)):
            docs += kustomize_build(path)
        else:
            docs += [d for d in yaml.safe_load_all(read(path)) if d is not None]
    for patch in kust.get("patches") or []:
        pdoc = yaml.safe_load(read(os.path.join(directory, patch["path"])))
        kind, name = pdoc.get("kind"), (pdoc.get("metadata") or {}).get("name")
        targets = [d for d in docs if d.get("kind") == kind and d["metadata"].get("name") == name]
        if len(targets) != 1:
            raise ValueError(f"{directory}: patch {patch['path']} matches {len(targets)} objects")
        smp_merge(targets[0], pdoc)
    ns = kust.get("namespace")
    for d in docs:
        if ns and d.get("kind") not in CLUSTER_SCOPED:
            d.setdefault("metadata", {})["namespace"] = ns
        set_image(d, kust.get("images") or [])
    return docs


def by_identity(docs):
    return {(d.get("kind"), d["metadata"].get("name")): d for d in docs}


def build_overlays(repo):
    """Builds every overlay into repo["overlays"]; records how in repo["builder"]."""
    kubectl = shutil.which("kubectl")
    repo["builder"] = "kubectl kustomize + built-in" if kubectl else "built-in (kubectl not installed)"
    for ov in sorted(os.listdir(os.path.join(ROOT, "k8s", "overlays"))):
        directory = os.path.join("k8s", "overlays", ov)
        try:
            docs = kustomize_build(directory)
        except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
            repo["errors"].append(f"{directory}: cannot build: {e}")
            continue
        if kubectl:
            r = subprocess.run([kubectl, "kustomize", os.path.join(ROOT, directory)], capture_output=True, text=True,
                               timeout=120)
            if r.returncode != 0:
                repo["errors"].append(f"{directory}: kubectl kustomize failed: {r.stderr.strip()[:500]}")
                continue
            built = [d for d in yaml.safe_load_all(r.stdout) if d is not None]
            mine, theirs = by_identity(docs), by_identity(built)
            for ident in sorted(set(mine) | set(theirs), key=str):
                if mine.get(ident) != theirs.get(ident):
                    repo["errors"].append(f"{directory}: the built-in builder and kubectl kustomize disagree on "
                                          f"{ident[0]}/{ident[1]}")
            docs = built
        repo["overlays"][ov] = docs


def load_repo():
    """Everything the checks look at, as plain data (so the self-test can mutate it)."""
    repo = {"k8s": {}, "k8s_files": {}, "overlays": {}, "compose": {}, "workflows": {}, "errors": []}
    for path in sorted(glob.glob(os.path.join(ROOT, "k8s", "**", "*.yaml"), recursive=True)):
        name = os.path.relpath(path, ROOT)
        try:
            repo["k8s_files"][name] = [d for d in yaml.safe_load_all(read(name)) if d is not None]
        except yaml.YAMLError as e:
            repo["errors"].append(f"{name}: not valid YAML: {e}")
    if not repo["errors"] and os.path.isdir(os.path.join(ROOT, "k8s", "overlays")):
        build_overlays(repo)
    for pattern, key in (("docker-compose*.yml", "compose"), (".github/workflows/*.yml", "workflows")):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            name = os.path.relpath(path, ROOT)
            try:
                repo[key][name] = yaml.safe_load(read(name))
            except yaml.YAMLError as e:
                repo["errors"].append(f"{name}: not valid YAML: {e}")
    for name in ("Dockerfile", ".dockerignore", "README.md"):
        repo[name] = read(name) if os.path.exists(os.path.join(ROOT, name)) else None
    literals = set()
    for path in glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True):
        with open(path, encoding="utf-8", errors="replace") as f:
            literals.update(re.findall(r'"([A-Z][A-Z0-9_]*)"', f.read()))
    repo["src_literals"] = literals
    api = os.path.join(ROOT, "..", "shared", "API.md")
    repo["contract_env"] = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", read(api))) if os.path.exists(api) else set()
    return repo


class Checker:
    def __init__(self, repo):
        self.repo = repo
        self.errors = list(repo["errors"])
        self.profile = "prod"  # the overlay being checked: "dev" relaxes replicas, limits, store

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # ---------------------------------------------------------------- helpers
    def objects(self, kind=None):
        for name, docs in self.repo["k8s"].items():
            for doc in docs:
                if isinstance(doc, dict) and (kind is None or doc.get("kind") == kind):
                    yield name, doc

    def documented_env(self):
        readme = self.repo["README.md"] or ""
        names = set()
        for line in readme.splitlines():
            if line.lstrip().startswith("|"):
                names.update(n for n in re.findall(r"`([A-Z][A-Z0-9_]*)`", line))
        return names

    def check_env_names(self, where, names):
        documented = self.documented_env()
        for n in sorted(names):
            if n not in documented:
                self.err(where, f"env {n} is not documented in README.md's environment table")
            if self.repo["src_literals"] and n not in self.repo["src_literals"] | self.repo["contract_env"]:
                self.err(where, f"env {n} is not read by the program (no \"{n}\" in src/) nor in API.md")

    @staticmethod
    def image_repo(image):
        """'ghcr.io/x/messenger:sha' -> 'messenger'; 'cassandra:4.1' -> 'cassandra'."""
        return str(image).split("@")[0].rsplit("/", 1)[-1].split(":")[0]

    def configmaps(self):
        return {d["metadata"]["name"]: d.get("data") or {} for _, d in self.objects("ConfigMap")}

    def resolved_env(self, container):
        """Env of a container as Kubernetes resolves it: envFrom configMaps, then env."""
        env = {}
        cms = self.configmaps()
        for src in container.get("envFrom") or []:
            ref = src.get("configMapRef")
            if ref:
                env.update(cms.get(ref.get("name"), {}))
        for e in container.get("env") or []:
            env[e.get("name")] = e.get("value")
        return env

    @staticmethod
    def pod_spec(doc):
        return ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}

    @staticmethod
    def containers(spec):
        return (spec.get("initContainers") or []) + (spec.get("containers") or [])

    @staticmethod
    def named_port(container, port):
        if isinstance(port, int):
            return port
        for p in container.get("ports") or []:
            if p.get("name") == port:
                return p.get("containerPort")
        return None

    @staticmethod
    def selects(selector, labels):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    # ---------------------------------------------------------------- kubernetes
    def check_k8s(self):
        if not self.repo["k8s"]:
            self.err("k8s/", "no manifests")
            return
        namespaces = [d["metadata"]["name"] for _, d in self.objects("Namespace")]
        if len(namespaces) != 1:
            self.err("k8s/", f"want exactly one Namespace, found {namespaces}")
        for name, doc in self.objects():
            if doc.get("kind") not in ("Namespace", "Kustomization") and namespaces:
                if (doc.get("metadata") or {}).get("namespace") != namespaces[0]:
                    self.err(name, f"{doc.get('kind')} {doc['metadata'].get('name')} is not in namespace "
                                   f"{namespaces[0]}")
        for name, doc in self.objects():
            if doc.get("kind") in WORKLOADS:
                self.check_pod(name, doc)
        deployments = [(n, d) for n, d in self.objects("Deployment")
                       if any(self.image_repo(c.get("image")) == IMAGE
                              for c in self.pod_spec(d).get("containers") or [])]
        if len(deployments) != 1:
            self.err("k8s/", f"want one messenger Deployment, found {len(deployments)}")
        for name, dep in deployments:
            self.check_deployment(name, dep)
        self.check_single_store()
        self.check_hpa_pdb_service(deployments)
        if self.profile == "prod" or list(self.objects("Job")):
            self.check_job(deployments)
        if self.profile == "prod" or list(self.objects("StatefulSet")):
            self.check_cassandra()
        if self.profile == "prod":
            self.check_prod(deployments)
        self.check_network_policy()
        for name, doc in self.objects("ConfigMap"):
            self.check_env_names(name, (doc.get("data") or {}).keys())
            port = (doc.get("data") or {}).get("PORT")
            if port is not None and str(port) != str(PORT):
                self.err(name, f"PORT is {port}, want {PORT}")
        for name, doc in self.objects("Secret"):
            self.check_env_names(name, list((doc.get("stringData") or {}).keys())
                                 + list((doc.get("data") or {}).keys()))

    def check_kustomizations(self):
        files = self.repo["k8s_files"]
        loose = [p for p in files if os.path.dirname(p) == "k8s"]
        for p in loose:
            self.err(p, "k8s/ holds a base and overlays: put it in k8s/base or an overlay")
        for directory in ["k8s/base"] + [f"k8s/overlays/{o}" for o in OVERLAYS]:
            name = f"{directory}/kustomization.yaml"
            docs = files.get(name)
            if not docs:
                self.err(name, "missing")
                continue
            kust = docs[0]
            listed = set(kust.get("resources") or []) | {p.get("path") for p in kust.get("patches") or []}
            for path in listed:
                full = os.path.normpath(os.path.join(directory, path))
                if full not in files and not f"{full}/kustomization.yaml" in files:
                    self.err(name, f"{path} does not exist")
            for path in files:
                base = os.path.basename(path)
                if os.path.dirname(path) != directory or base == "kustomization.yaml" or base.startswith("secret.example"):
                    continue
                if base not in listed:
                    self.err(name, f"{base} is not listed in resources or patches")
            if any(str(r).startswith("secret.example") for r in listed):
                self.err(name, "the example Secret must not be applied")
            if directory != "k8s/base" and "../../base" not in (kust.get("resources") or []):
                self.err(name, "an overlay must build on ../../base")
            if not any(i.get("name") == IMAGE for i in kust.get("images") or []):
                self.err(name, f"images: has no entry for {IMAGE} (CD pins it to the commit SHA)")
        for o in OVERLAYS:
            if o not in self.repo["overlays"] and not self.repo["errors"]:
                self.err(f"k8s/overlays/{o}", "missing overlay")

    def check_prod(self, deployments):
        """Production: a send rate limit, Redis for events across replicas, resource limits."""
        for name, dep in deployments:
            for c in self.pod_spec(dep).get("containers") or []:
                if self.image_repo(c.get("image")) != IMAGE:
                    continue
                rate = self.resolved_env(c).get("MESSENGER_SEND_RATE")
                try:
                    ok = float(rate) > 0
                except (TypeError, ValueError):
                    ok = False
                if not ok:
                    self.err(name, f"prod must limit sends: MESSENGER_SEND_RATE is {rate!r}, want > 0")
        redis = [n for n, d in self.objects() if d.get("kind") in ("Deployment", "StatefulSet")
                 and any(self.image_repo(c.get("image")) == "redis" for c in self.pod_spec(d).get("containers") or [])]
        if not redis:
            self.err("k8s/", "prod has no Redis workload (live events across replicas)")
        if not any(d["metadata"]["name"] == "redis" for _, d in self.objects("Service")):
            self.err("k8s/", "prod has no Service named redis")

    def check_pod(self, name, doc):
        where = f"{name} {doc['kind']}/{doc['metadata'].get('name')}"
        spec = self.pod_spec(doc)
        psc = spec.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            self.err(where, "pod securityContext.runAsNonRoot must be true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            self.err(where, "pod securityContext.seccompProfile.type must be RuntimeDefault")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            self.err(where, "must not use host namespaces")
        for v in spec.get("volumes") or []:
            if "hostPath" in v:
                self.err(where, f"volume {v.get('name')} is a hostPath")
        for c in self.containers(spec):
            cw = f"{where} container {c.get('name')}"
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is not False:
                self.err(cw, "securityContext.allowPrivilegeEscalation must be false")
            if sc.get("privileged"):
                self.err(cw, "must not be privileged")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                self.err(cw, "securityContext.capabilities.drop must contain ALL")
            if caps.get("add"):
                self.err(cw, f"adds capabilities {caps['add']}")
            res = c.get("resources") or {}
            dev_server = self.profile == "dev" and self.image_repo(c.get("image")) == IMAGE
            for part in ("requests",) if dev_server else ("requests", "limits"):
                if not (res.get(part) or {}).get("memory") or not (res.get(part) or {}).get("cpu"):
                    self.err(cw, f"resources.{part} needs cpu and memory")
            if dev_server and res.get("limits"):
                self.err(cw, "dev sets no resource limits (requests only)")
            image = str(c.get("image", ""))
            if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
                self.err(cw, f"image {image} has no tag")
            if self.image_repo(image) == IMAGE:
                self.check_messenger_container(cw, c, spec, psc)
            else:
                if image.endswith(":latest"):
                    self.err(cw, f"third-party image {image} must be pinned to a version")

    def check_messenger_container(self, where, c, spec, psc):
        sc = c.get("securityContext") or {}
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if uid != UID:
            self.err(where, f"runAsUser is {uid}, want {UID} (the image's user)")
        if sc.get("readOnlyRootFilesystem") is not True:
            self.err(where, "securityContext.readOnlyRootFilesystem must be true")
        else:
            mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
            empty = {v.get("name") for v in spec.get("volumes") or [] if "emptyDir" in v}
            if mounts.get("/tmp") not in empty:
                self.err(where, "a read-only root filesystem needs an emptyDir at /tmp")
        if spec.get("automountServiceAccountToken") is not False:
            self.err(where, "automountServiceAccountToken must be false (the server needs no API access)")
        for p in c.get("ports") or []:
            if p.get("containerPort") != PORT:
                self.err(where, f"containerPort {p.get('containerPort')}, want {PORT}")
        names = {e.get("name") for e in c.get("env") or []}
        for n in sorted(names & {"MESSENGER_STORE", "MESSENGER_DB"}):
            self.err(where, f"set {n} in the ConfigMap, not inline")
        for cm in (s.get("configMapRef") for s in c.get("envFrom") or []):
            if cm and cm.get("name") not in self.configmaps():
                self.err(where, f"envFrom configMap {cm.get('name')} is not in the manifests")
        self.check_env_names(where, names)

    def check_deployment(self, name, dep):
        where = f"{name} Deployment/{dep['metadata']['name']}"
        spec = dep.get("spec") or {}
        if self.profile == "prod" and (spec.get("replicas") or 1) < 2:
            self.err(where, "replicas must be 2 or more")
        if self.profile == "dev" and spec.get("replicas") != 1:
            self.err(where, "dev runs exactly 1 replica")
        notes = (((spec.get("template") or {}).get("metadata") or {}).get("annotations")) or {}
        want = {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT), "prometheus.io/path": "/metrics"}
        for k, v in want.items():
            if str(notes.get(k)) != v:
                self.err(where, f"pod annotation {k} must be {v!r} (Prometheus scrapes /metrics)")
        strategy = spec.get("strategy") or {}
        if strategy.get("type") != "RollingUpdate":
            self.err(where, "strategy.type must be RollingUpdate")
        if (strategy.get("rollingUpdate") or {}).get("maxUnavailable") not in (0, "0", "0%"):
            self.err(where, "strategy.rollingUpdate.maxUnavailable must be 0")
        pod = self.pod_spec(dep)
        server = [c for c in pod.get("containers") or [] if self.image_repo(c.get("image")) == IMAGE]
        for c in server:
            for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health"),
                                ("startupProbe", "/health")):
                get = (c.get(probe) or {}).get("httpGet") or {}
                if get.get("path") != path:
                    self.err(where, f"{probe} must be an httpGet on {path}")
                elif self.named_port(c, get.get("port")) != PORT:
                    self.err(where, f"{probe} must probe port {PORT}")
            if c.get("args", [None])[0] != "serve" and (c.get("command") or [None])[-1] != "serve":
                self.err(where, "the server container must run `serve`")
            pre = ((c.get("lifecycle") or {}).get("preStop") or {})
            cmd = (pre.get("exec") or {}).get("command") or []
            sleep = pre.get("sleep", {}).get("seconds") if "sleep" in pre else (
                int(cmd[1]) if len(cmd) == 2 and cmd[0] == "sleep" and cmd[1].isdigit() else None)
            grace = pod.get("terminationGracePeriodSeconds")
            if sleep is None:
                self.err(where, "needs a preStop sleep so endpoints drain before SIGTERM")
            elif grace is None or grace < sleep + 10:
                self.err(where, f"terminationGracePeriodSeconds ({grace}) must exceed the preStop sleep "
                                f"({sleep}) by 10s or more")

    def check_single_store(self):
        scaled = {d["spec"]["scaleTargetRef"]["name"] for _, d in self.objects("HorizontalPodAutoscaler")
                  if (d.get("spec") or {}).get("scaleTargetRef", {}).get("kind") == "Deployment"}
        for name, dep in self.objects("Deployment"):
            dname = dep["metadata"]["name"]
            replicas = (dep.get("spec") or {}).get("replicas", 1)
            if replicas <= 1 and dname not in scaled:
                continue
            where = f"{name} Deployment/{dname}"
            pod = self.pod_spec(dep)
            for c in pod.get("containers") or []:
                if self.image_repo(c.get("image")) != IMAGE:
                    continue
                env = self.resolved_env(c)
                if env.get("MESSENGER_STORE") != "cassandra":
                    self.err(where, "several replicas must share the Cassandra store: MESSENGER_STORE is "
                                    f"{env.get('MESSENGER_STORE')!r}, want 'cassandra'")
                if "MESSENGER_DB" in env:
                    self.err(where, "MESSENGER_DB is set: replicas must not have SQLite files")
                if "MESSENGER_NODE_ID" in env:
                    self.err(where, "MESSENGER_NODE_ID is set: every replica would share it; leave it unset "
                                    "so each pod leases its own from Cassandra")
                if "CASSANDRA_CONTACT_POINTS" not in env:
                    self.err(where, "CASSANDRA_CONTACT_POINTS is not set")
            for v in pod.get("volumes") or []:
                if "persistentVolumeClaim" in v:
                    self.err(where, f"volume {v.get('name')} is persistent: replicas keep no local data")

    def check_hpa_pdb_service(self, deployments):
        if not deployments:
            return
        dname, dep = deployments[0][1]["metadata"]["name"], deployments[0][1]
        labels = ((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        hpas = [(n, d) for n, d in self.objects("HorizontalPodAutoscaler")]
        if not hpas and self.profile == "prod":
            self.err("k8s/", "no HorizontalPodAutoscaler")
        for name, hpa in hpas:
            spec = hpa.get("spec") or {}
            if spec.get("scaleTargetRef", {}).get("name") != dname:
                self.err(name, f"scaleTargetRef is not Deployment/{dname}")
            if (spec.get("minReplicas") or 1) < 2:
                self.err(name, "minReplicas must be 2 or more")
            if (spec.get("maxReplicas") or 0) > NODE_IDS:
                self.err(name, f"maxReplicas above {NODE_IDS}: message ids have {NODE_IDS} node numbers")
        pdbs = list(self.objects("PodDisruptionBudget"))
        if not pdbs and self.profile == "prod":
            self.err("k8s/", "no PodDisruptionBudget")
        for name, pdb in pdbs:
            if not self.selects((pdb["spec"].get("selector") or {}).get("matchLabels"), labels):
                self.err(name, f"selector does not match Deployment/{dname}'s pods")
        services = [(n, s) for n, s in self.objects("Service")
                    if self.selects((s.get("spec") or {}).get("selector"), labels)]
        if not services:
            self.err("k8s/", f"no Service selects Deployment/{dname}'s pods")
        container = (self.pod_spec(dep).get("containers") or [{}])[0]
        for name, svc in services:
            for p in svc["spec"].get("ports") or []:
                target = self.named_port(container, p.get("targetPort", p.get("port")))
                if p.get("port") != PORT or target != PORT:
                    self.err(name, f"Service port {p.get('port')} -> {target}, want {PORT} -> {PORT}")

    def check_job(self, deployments):
        jobs = [(n, j) for n, j in self.objects("Job")
                if any(self.image_repo(c.get("image")) == IMAGE for c in self.pod_spec(j).get("containers") or [])]
        if not jobs:
            self.err("k8s/", "no migration Job")
        dep_selectors = [(d.get("spec") or {}).get("selector", {}).get("matchLabels") for _, d in deployments]
        dep_selectors += [(s.get("spec") or {}).get("selector") for _, s in self.objects("Service")]
        for name, job in jobs:
            spec = self.pod_spec(job)
            c = (spec.get("containers") or [{}])[0]
            if (c.get("args") or c.get("command") or [None])[-1] != "migrate":
                self.err(name, "the Job must run `messenger migrate`")
            if spec.get("restartPolicy") not in ("Never", "OnFailure"):
                self.err(name, "restartPolicy must be Never or OnFailure")
            if job["spec"].get("backoffLimit") is None:
                self.err(name, "set backoffLimit")
            labels = (job["spec"]["template"].get("metadata") or {}).get("labels") or {}
            if any(self.selects(sel, labels) for sel in dep_selectors):
                self.err(name, "the Job's pods match the server Deployment/Service selector")
            if self.resolved_env(c).get("MESSENGER_STORE") != "cassandra":
                self.err(name, "the migration must target MESSENGER_STORE=cassandra")

    def check_cassandra(self):
        sets = [(n, s) for n, s in self.objects("StatefulSet")
                if any(self.image_repo(c.get("image")) == "cassandra" for c in self.pod_spec(s).get("containers") or [])]
        if len(sets) != 1:
            self.err("k8s/", f"want one Cassandra StatefulSet, found {len(sets)}")
            return
        name, sts = sets[0]
        svc_name = sts["spec"].get("serviceName")
        headless = [s for _, s in self.objects("Service")
                    if s["metadata"]["name"] == svc_name and (s.get("spec") or {}).get("clusterIP") == "None"]
        if not headless:
            self.err(name, f"serviceName {svc_name} is not a headless Service in the manifests")
        for cm_name, data in self.configmaps().items():
            points = data.get("CASSANDRA_CONTACT_POINTS")
            if points is not None:
                hosts = [p.strip().split(":")[0].split(".")[0] for p in str(points).split(",")]
                if not any(h in (svc_name, f"{svc_name}-0") for h in hosts):
                    self.err(f"ConfigMap/{cm_name}", f"CASSANDRA_CONTACT_POINTS {points} does not name "
                                                     f"the Cassandra Service {svc_name}")
        for c in self.pod_spec(sts).get("containers") or []:
            if not c.get("readinessProbe"):
                self.err(name, "Cassandra needs a readinessProbe")

    def check_network_policy(self):
        pols = list(self.objects("NetworkPolicy"))
        if not any((p["spec"].get("podSelector") == {} and set(p["spec"].get("policyTypes") or [])
                    == {"Ingress", "Egress"} and not p["spec"].get("ingress") and not p["spec"].get("egress"))
                   for _, p in pols):
            self.err("k8s/", "no default-deny NetworkPolicy (podSelector {} with Ingress and Egress)")
        allowed = False
        for _, p in pols:
            sel = (p["spec"].get("podSelector") or {}).get("matchLabels") or {}
            if sel.get("app.kubernetes.io/component") == "server":
                for rule in p["spec"].get("ingress") or []:
                    if any(pt.get("port") == PORT for pt in rule.get("ports") or []):
                        allowed = True
        if not allowed:
            self.err("k8s/", f"no NetworkPolicy lets clients reach the server on {PORT}")

    # ---------------------------------------------------------------- compose
    def check_compose(self):
        main, lite = "docker-compose.yml", "docker-compose.sqlite.yml"
        for f in (main, lite):
            if f not in self.repo["compose"]:
                self.err(f, "missing")
        for f, doc in self.repo["compose"].items():
            services = (doc or {}).get("services") or {}
            for sname, svc in services.items():
                where = f"{f} service {sname}"
                image = svc.get("image", "")
                env = svc.get("environment") or {}
                if isinstance(env, list):
                    env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
                if self.image_repo(image) == IMAGE:
                    self.check_env_names(where, env.keys())
                    for p in svc.get("ports") or []:
                        if str(p).rsplit(":", 1)[-1].split("/")[0] != str(PORT):
                            self.err(where, f"port mapping {p} must target container port {PORT}")
                    if "PORT" in env and str(env["PORT"]) != str(PORT):
                        self.err(where, f"PORT is {env['PORT']}, want {PORT}")
                elif sname != "cassandra":
                    self.err(where, f"image {image} is neither {IMAGE} nor cassandra")
        services = (self.repo["compose"].get(main) or {}).get("services") or {}
        cas = services.get("cassandra") or {}
        if cas.get("image") != "cassandra:4.1":
            self.err(main, "cassandra must use the official cassandra:4.1 image")
        if "cqlsh" not in str((cas.get("healthcheck") or {}).get("test")):
            self.err(main, "cassandra needs a cqlsh healthcheck")
        mig = services.get("migrate") or {}
        if mig.get("command") != ["migrate"]:
            self.err(main, "migrate service must run `migrate`")
        if (mig.get("depends_on") or {}).get("cassandra", {}).get("condition") != "service_healthy":
            self.err(main, "migrate must wait for cassandra to be healthy")
        app = services.get("app") or {}
        if (app.get("depends_on") or {}).get("migrate", {}).get("condition") != "service_completed_successfully":
            self.err(main, "app must start after migrate completed")
        for sname in ("migrate", "app"):
            if ((services.get(sname) or {}).get("environment") or {}).get("MESSENGER_STORE") != "cassandra":
                self.err(main, f"{sname} must use MESSENGER_STORE=cassandra")
        if "seed" not in ((services.get("seed") or {}).get("profiles") or []):
            self.err(main, "the seed step must be optional (profile seed)")
        lapp = (((self.repo["compose"].get(lite) or {}).get("services") or {}).get("app") or {})
        if (lapp.get("environment") or {}).get("MESSENGER_STORE") != "sqlite":
            self.err(lite, "app must use MESSENGER_STORE=sqlite")
        if not any(str(v).endswith(":/data") for v in lapp.get("volumes") or []):
            self.err(lite, "app must keep its SQLite file in a volume at /data")

    # ---------------------------------------------------------------- Dockerfile
    def check_dockerfile(self):
        text = self.repo["Dockerfile"]
        if text is None:
            self.err("Dockerfile", "missing")
            return
        lines = re.sub(r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
        stages = []
        for ln in lines.splitlines():
            parts = ln.strip().split(None, 1)
            if not parts:
                continue
            op, arg = parts[0].upper(), (parts[1] if len(parts) > 1 else "")
            if op == "FROM":
                stages.append({"from": arg, "ops": []})
            elif stages:
                stages[-1]["ops"].append((op, arg.strip()))
        if len(stages) < 2:
            self.err("Dockerfile", "must be multi-stage (builder + runtime)")
            return
        build, runtime = stages[0], stages[-1]
        if not re.match(r"^debian:12(\s|$)", build["from"]):
            self.err("Dockerfile", f"builder must be FROM debian:12, is {build['from']}")
        runs = [cmd.strip() for op, arg in build["ops"] if op == "RUN" for cmd in re.split(r"&&|;", arg)]
        makes = [c for c in runs if c.startswith("make ")]
        if [m for m in makes if m in ("make deps", "make build")] != ["make deps", "make build"] or \
                any(m not in ("make deps", "make build") for m in makes):
            self.err("Dockerfile", f"the build stage must run exactly `make deps` then `make build`, runs {makes}")
        for op, arg in build["ops"]:
            if op == "COPY" and not arg.startswith("--from") and arg.split()[0] != ".":
                self.err("Dockerfile", f"the build stage must COPY the whole context, not {arg}")
        for src in re.findall(r"cp -R (\S+)", " ".join(runs)):
            path = os.path.join(ROOT, src.rstrip("/."))
            if not src.startswith("build/") and not (os.path.isdir(path) and os.listdir(path)):
                self.err("Dockerfile", f"copies {src}, which is not a non-empty directory of the repository")
        if not runtime["from"].startswith("debian:12-slim"):
            self.err("Dockerfile", f"runtime must be FROM debian:12-slim, is {runtime['from']}")
        ops = {}
        for op, arg in runtime["ops"]:
            ops.setdefault(op, []).append(arg)
        install = " ".join(ops.get("RUN", []))
        m = re.search(r"apt-get install ([^&;]*)", install)
        pkgs = {p for p in (m.group(1).split() if m else []) if not p.startswith("-")}
        if pkgs != RUNTIME_LIBS:
            self.err("Dockerfile", f"runtime installs {sorted(pkgs)}, want exactly {sorted(RUNTIME_LIBS)}")
        if "--uid 10001" not in install or f"USER {UID}" not in [f"USER {u.split(':')[0]}" for u in ops.get("USER", [])]:
            self.err("Dockerfile", f"runtime must create and run as uid {UID}")
        if ops.get("EXPOSE") != [str(PORT)]:
            self.err("Dockerfile", f"EXPOSE must be {PORT}")
        if not any("/data" in v for v in ops.get("VOLUME", [])):
            self.err("Dockerfile", "VOLUME /data missing")
        if "MESSENGER_DB=/data/messenger.db" not in " ".join(ops.get("ENV", [])):
            self.err("Dockerfile", "ENV MESSENGER_DB=/data/messenger.db missing")
        env_names = set(re.findall(r"([A-Z][A-Z0-9_]*)=", " ".join(ops.get("ENV", []))))
        self.check_env_names("Dockerfile ENV", env_names)
        if ops.get("STOPSIGNAL") != ["SIGTERM"]:
            self.err("Dockerfile", "STOPSIGNAL SIGTERM missing")
        health = " ".join(ops.get("HEALTHCHECK", []))
        if "healthcheck" not in health.split("CMD", 1)[-1]:
            self.err("Dockerfile", "HEALTHCHECK must run `messenger healthcheck`")
        entry = " ".join(ops.get("ENTRYPOINT", []))
        if not entry.startswith("[") or not ("tini" in entry or "messenger" in entry):
            self.err("Dockerfile", "ENTRYPOINT must be exec form with tini or messenger as PID 1")
        ignore = (self.repo[".dockerignore"] or "").split()
        for must in (".git", "build"):
            if must not in ignore:
                self.err(".dockerignore", f"must exclude {must}")

    # ---------------------------------------------------------------- workflows
    def check_workflows(self):
        ci, cd = ".github/workflows/ci.yml", ".github/workflows/cd.yml"
        for f in (ci, cd):
            if f not in self.repo["workflows"]:
                self.err(f, "missing")
        for f, wf in self.repo["workflows"].items():
            if not isinstance(wf, dict) or "jobs" not in wf:
                self.err(f, "has no jobs")
                continue
            if (wf.get("env") or {}).get("IMAGE_NAME") != IMAGE:
                self.err(f, f"env.IMAGE_NAME must be {IMAGE}")
            for jname, job in wf["jobs"].items():
                for step in job.get("steps") or []:
                    uses = step.get("uses")
                    if uses and not re.search(r"@(v?\d+\.\d+\.\d+|[0-9a-f]{40})$", uses):
                        self.err(f, f"job {jname}: action {uses} is not pinned to an exact version")
        wf = self.repo["workflows"].get(ci)
        if isinstance(wf, dict) and "jobs" in wf:
            jobs = wf["jobs"]
            for j in ("lint", "sast", "sca", "test", "image", "push"):
                if j not in jobs:
                    self.err(ci, f"missing job {j}")
            text = {j: strings(v) for j, v in jobs.items()}
            expect = {"lint": ["make lint"], "test": ["make test", "actions/upload-artifact", "build/coverage/report"],
                      "sast": ["github/codeql-action/init", "c-cpp", "manual", "make build",
                               "github/codeql-action/analyze"],
                      "sca": ["aquasecurity/trivy-action", "scan-type: fs", "CRITICAL,HIGH", "exit-code: 1"],
                      "image": ["github.sha", "aquasecurity/trivy-action", "scan-type: image",
                                "scripts/smoke-test.sh", "docker run"],
                      "push": ["secrets.", "docker push"]}
            for j, needles in expect.items():
                for n in needles:
                    if j in text and n not in text[j]:
                        self.err(ci, f"job {j} does not contain {n!r}")
            parallel = [j for j in ("lint", "sast", "sca", "test", "image") if jobs.get(j, {}).get("needs")]
            if parallel:
                self.err(ci, f"jobs {parallel} should run in parallel (no needs:)")
            push = jobs.get("push") or {}
            if "refs/heads/main" not in str(push.get("if")) or "push" not in str(push.get("if")):
                self.err(ci, "push must run only for pushes to main")
            if set(push.get("needs") or []) != {"lint", "sast", "sca", "test", "image"}:
                self.err(ci, "push must need every other job")
        wf = self.repo["workflows"].get(cd)
        if isinstance(wf, dict) and "jobs" in wf:
            text = strings(wf["jobs"])
            for n in ("kind load docker-image", "kubectl kustomize", "newTag: \"$GITHUB_SHA\"", "k8s/overlays/prod",
                      "rollout status deployment/messenger", "job/messenger-migrate", "port-forward",
                      "scripts/smoke-test.sh", "kind delete cluster"):
                if n not in text:
                    self.err(cd, f"does not contain {n!r}")
            cleanup = [s for j in wf["jobs"].values() for s in j.get("steps") or []
                       if "kind delete cluster" in str(s.get("run"))]
            if not cleanup or any(s.get("if") != "always()" for s in cleanup):
                self.err(cd, "the cluster clean-up must run if: always()")
            if f"port-forward service/messenger {PORT}:{PORT}" not in text:
                self.err(cd, f"port-forward must map {PORT}:{PORT} to service/messenger")

    def run(self):
        self.check_kustomizations()
        for ov in OVERLAYS:
            if ov not in self.repo["overlays"]:
                continue
            self.profile = ov
            self.repo["k8s"] = {f"k8s/overlays/{ov}": self.repo["overlays"][ov]}
            self.check_k8s()
        self.check_compose()
        self.check_dockerfile()
        self.check_workflows()
        if not self.documented_env():
            self.err("README.md", "no environment table (| `NAME` | ... |)")
        return self.errors


def self_test():
    """Each mutation must be reported; the unmodified repo must pass."""
    base = load_repo()

    def k8s_doc(repo, kind, name=None, overlay="prod"):
        for d in repo["overlays"][overlay]:
            if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
                return d
        raise KeyError(kind)

    def container(repo, kind, name=None, overlay="prod"):
        return k8s_doc(repo, kind, name, overlay)["spec"]["template"]["spec"]["containers"][0]

    mutations = {
        "sqlite replicas": (lambda r: k8s_doc(r, "ConfigMap")["data"].__setitem__("MESSENGER_STORE", "sqlite"),
                            "share the Cassandra store"),
        "pvc on server": (lambda r: k8s_doc(r, "Deployment", "messenger")["spec"]["template"]["spec"]["volumes"].append(
            {"name": "db", "persistentVolumeClaim": {"claimName": "x"}}), "is persistent"),
        "writable root": (lambda r: container(r, "Deployment", "messenger")["securityContext"].__setitem__(
            "readOnlyRootFilesystem", False), "readOnlyRootFilesystem"),
        "privilege escalation": (lambda r: container(r, "Job")["securityContext"].pop("allowPrivilegeEscalation"),
                                 "allowPrivilegeEscalation"),
        "caps kept": (lambda r: container(r, "StatefulSet")["securityContext"].pop("capabilities"), "drop must"),
        "prod without limits": (lambda r: container(r, "Deployment", "messenger")["resources"].pop("limits"),
                                "resources.limits"),
        "dev with limits": (lambda r: container(r, "Deployment", overlay="dev")["resources"].__setitem__(
            "limits", {"cpu": "1", "memory": "1Gi"}), "dev sets no resource limits"),
        "dev scaled on sqlite": (lambda r: k8s_doc(r, "Deployment", overlay="dev")["spec"].__setitem__(
            "replicas", 2), "share the Cassandra store"),
        "no scrape annotation": (lambda r: k8s_doc(r, "Deployment", "messenger")["spec"]["template"]["metadata"][
            "annotations"].pop("prometheus.io/scrape"), "prometheus.io/scrape"),
        "no send limit": (lambda r: k8s_doc(r, "ConfigMap")["data"].pop("MESSENGER_SEND_RATE"),
                          "MESSENGER_SEND_RATE"),
        "no redis": (lambda r: r["overlays"]["prod"].remove(k8s_doc(r, "StatefulSet", "redis")), "no Redis"),
        "prod without pdb": (lambda r: r["overlays"]["prod"].remove(k8s_doc(r, "PodDisruptionBudget")),
                             "no PodDisruptionBudget"),
        "unlisted overlay file": (lambda r: r["k8s_files"].__setitem__("k8s/overlays/prod/extra.yaml", []),
                                  "extra.yaml is not listed"),
        "readiness path": (lambda r: container(r, "Deployment", "messenger")["readinessProbe"]["httpGet"].__setitem__(
            "path", "/health"), "readinessProbe"),
        "one replica": (lambda r: k8s_doc(r, "Deployment", "messenger")["spec"].__setitem__("replicas", 1),
                        "replicas must"),
        "max unavailable": (lambda r: k8s_doc(r, "Deployment", "messenger")["spec"]["strategy"]["rollingUpdate"].__setitem__(
            "maxUnavailable", 1), "maxUnavailable"),
        "service port": (lambda r: k8s_doc(r, "Service", "messenger")["spec"]["ports"][0].__setitem__(
            "targetPort", 8080), "want 8000"),
        "undocumented env": (lambda r: k8s_doc(r, "ConfigMap")["data"].__setitem__("MESSENGER_TYPO", "1"),
                             "MESSENGER_TYPO is not documented"),
        "shared node id": (lambda r: k8s_doc(r, "ConfigMap")["data"].__setitem__("MESSENGER_NODE_ID", "1"),
                           "MESSENGER_NODE_ID is set"),
        "hpa too big": (lambda r: k8s_doc(r, "HorizontalPodAutoscaler")["spec"].__setitem__("maxReplicas", 64),
                        "maxReplicas"),
        "unpinned action": (lambda r: r["workflows"][".github/workflows/ci.yml"]["jobs"]["lint"]["steps"].append(
            {"uses": "actions/checkout@v4"}), "not pinned"),
        "push on PRs": (lambda r: r["workflows"][".github/workflows/ci.yml"]["jobs"]["push"].__setitem__(
            "if", "always()"), "only for pushes to main"),
        "compose port": (lambda r: r["compose"]["docker-compose.yml"]["services"]["app"].__setitem__(
            "ports", ["8000:8080"]), "container port"),
        "compose image": (lambda r: r["compose"]["docker-compose.yml"]["services"]["app"].__setitem__(
            "image", "other:1"), "neither"),
        "dockerfile build": (lambda r: r.__setitem__("Dockerfile", r["Dockerfile"].replace(
            "RUN make build", "RUN make all")), "exactly `make deps` then `make build`"),
        "dockerfile root": (lambda r: r.__setitem__("Dockerfile", r["Dockerfile"].replace(
            "USER 10001:10001", "USER root")), "uid 10001"),
        "dockerfile curl": (lambda r: r.__setitem__("Dockerfile", r["Dockerfile"].replace(
            " tini ", " tini curl ")), "want exactly"),
    }
    failures = []
    baseline = Checker(copy.deepcopy(base)).run()
    if baseline:
        failures.append(f"the unmodified repo has findings: {baseline[:3]}")
    for label, (mutate, needle) in mutations.items():
        repo = copy.deepcopy(base)
        mutate(repo)
        found = Checker(repo).run()
        if not any(needle in e for e in found):
            failures.append(f"mutation '{label}' was not reported (want {needle!r}; got {found[:3]})")
    for f in failures:
        print(f"check-manifests self-test: {f}", file=sys.stderr)
    print(f"self-test: {len(mutations) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    errors = Checker(load_repo()).run()
    for e in errors:
        print(f"check-manifests: {e}", file=sys.stderr)
    if errors:
        print(f"check-manifests: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    repo = load_repo()
    built = ", ".join(f"{ov} {len(docs)} objects" for ov, docs in sorted(repo["overlays"].items()))
    print(f"check-manifests: overlays built with {repo['builder']} ({built}); compose, Dockerfile and "
          f"workflows consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
