# The Kubernetes manifests (deploy/kubernetes/): with make-secrets.sh's material in a copy of the
# tree, the base and every overlay build with `kubectl kustomize` (when kubectl is installed) and
# pass check-manifests.py: every reference (image, ports, Secret and ConfigMap names and keys,
# mounted files, Services) resolves; the same checker on its own kustomize emulation when
# kubectl is missing. A manifest with a broken reference must fail the checker. The container
# image's Dockerfile and the cloud-init example parse.
. "$SB_ROOT/test/e2e/lib.sh"
K="$WORK/kubernetes"
PY=/usr/bin/python3 # Debian's, with python3-yaml
[ -x "$PY" ] || PY=python3
CHECK="$PY $SB_ROOT/deploy/kubernetes/check-manifests.py"
cp -r "$SB_ROOT/deploy/kubernetes" "$K"
rm -f "$K/base/secrets/"[!.]*
sh "$K/make-secrets.sh" >/dev/null
[ "$(stat -c %a "$K/base/secrets/agent.key")" = 600 ] || fail "make-secrets.sh: the key is readable by others"
openssl verify -CAfile "$K/base/secrets/ca.pem" "$K/base/secrets/agent.pem" >/dev/null ||
  fail "make-secrets.sh: the agent certificate does not verify"
openssl x509 -in "$K/base/secrets/agent.pem" -noout -ext subjectAltName | grep -q 'DNS:speedboat-agents,' ||
  fail "the agents' certificate does not name the Service the controller dials"

overlays="base $(cd "$K/overlays" && ls -d */ | sed 's|/$||; s|^|overlays/|')"
for o in $overlays; do
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$K/$o" >"$WORK/rendered.yaml" 2>"$WORK/kustomize.err" ||
      { cat "$WORK/kustomize.err"; fail "kubectl kustomize $o failed"; }
    $CHECK "$WORK/rendered.yaml" || fail "$o (kubectl kustomize) does not check"
    grep -q '^kind: StatefulSet$' "$WORK/rendered.yaml" && grep -q '^kind: Job$' "$WORK/rendered.yaml" ||
      fail "$o: no StatefulSet or Job"
  else
    echo "kubectl not installed: $o checked on check-manifests.py's own kustomize emulation"
  fi
  $CHECK --kustomize "$K/$o" || fail "$o (emulated kustomize) does not check"
done

# a broken reference fails: a Secret key nobody defines, a probe on a port nobody opens
sed 's/- key: controller.key/- key: controller.kee/' "$K/base/controller-job.yaml" >"$WORK/x" && mv "$WORK/x" "$K/base/controller-job.yaml"
! $CHECK --kustomize "$K/base" 2>"$WORK/err" || fail "the checker missed a missing Secret key"
grep -q "has no key 'controller.kee'" "$WORK/err" || fail "checker: $(cat "$WORK/err")"
cp "$SB_ROOT/deploy/kubernetes/base/controller-job.yaml" "$K/base/"
sed 's/port: health$/port: healthz/' "$K/base/agents.yaml" >"$WORK/x" && mv "$WORK/x" "$K/base/agents.yaml"
! $CHECK --kustomize "$K/base" 2>"$WORK/err" || fail "the checker missed a probe on an unknown port"

# the base without secrets must not build: nobody deploys an agent fleet without a token
if command -v kubectl >/dev/null; then
  cp -r "$SB_ROOT/deploy/kubernetes" "$WORK/nosecrets"
  rm -f "$WORK/nosecrets/base/secrets/"[!.]*
  ! kubectl kustomize "$WORK/nosecrets/base" >/dev/null 2>&1 || fail "the base builds without secrets"
fi

# the cloud-init example and the Dockerfile's shape
$PY -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert d["runcmd"] and d["write_files"]' \
  "$SB_ROOT/deploy/cloud-init/agent.yaml" || fail "cloud-init example does not parse"
head -1 "$SB_ROOT/deploy/cloud-init/agent.yaml" | grep -qx '#cloud-config' || fail "cloud-init: no #cloud-config line"
D="$SB_ROOT/deploy/Dockerfile"
[ "$(grep -c '^FROM debian:12' "$D")" -eq 2 ] || fail "Dockerfile: two stages on Debian 12 expected"
grep -q '^USER 10001:10001$' "$D" || fail "Dockerfile: the final stage must not run as root"
sed -n '/^FROM debian:12-slim/,$p' "$D" | grep -v 'command -v' | grep -Eq 'build-essential|gcc|clang' && fail "Dockerfile: a compiler in the final stage"
echo ok
