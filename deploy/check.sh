#!/usr/bin/env bash
# Static checks of deploy/: the systemd unit with `systemd-analyze verify` (and the offline
# security score), the Kubernetes manifests' YAML syntax and basic shape. Needs systemd and
# python3 with PyYAML; a missing tool is reported as SKIPPED, not as a pass.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0

if command -v systemd-analyze >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # verify requires ExecStart's binary to exist: point it at a placeholder in a temp dir.
  printf '#!/bin/sh\nexit 0\n' >"$tmp/protean-admind"
  chmod 755 "$tmp/protean-admind"
  sed "s|/usr/local/bin/protean-admind|$tmp/protean-admind|" \
    "$here/systemd/protean-admind.service" >"$tmp/protean-admind.service"
  if out=$(systemd-analyze verify "$tmp/protean-admind.service" 2>&1) && [ -z "$out" ]; then
    echo "systemd-analyze verify: OK"
  else
    echo "systemd-analyze verify: FAILED"; echo "$out"; status=1
  fi
  systemd-analyze security --offline=yes "$tmp/protean-admind.service" 2>/dev/null |
    grep 'Overall exposure' || true
else
  echo "systemd-analyze verify: SKIPPED (systemd not installed)"
fi

if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "$here/k8s" <<'PY' || status=1
import pathlib, sys, yaml
ok = True
kinds = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc is None:
            continue
        keys = ("apiVersion", "kind") if doc.get("kind") == "Kustomization" else (
            "apiVersion", "kind", "metadata")
        for key in keys:
            if key not in doc:
                print(f"{path.name}: document without {key}"); ok = False
        kinds.setdefault(doc.get("kind"), []).append(doc)
for kind in ("Deployment", "Service", "Secret", "ConfigMap"):
    if kind not in kinds:
        print(f"k8s: no {kind}"); ok = False
for dep in kinds.get("Deployment", []):
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True, "runAsNonRoot"
    for c in pod["containers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, "readOnlyRootFilesystem"
        assert "grpc" in c["livenessProbe"] and "grpc" in c["readinessProbe"], "grpc probes"
print("k8s YAML: OK" if ok else "k8s YAML: FAILED")
sys.exit(0 if ok else 1)
PY
else
  echo "k8s YAML: SKIPPED (python3 yaml module not available)"
fi
if command -v kubectl >/dev/null; then
  # Offline: renders the kustomization (no cluster needed). Server-side validation
  # (kubectl apply --dry-run=server) needs a cluster and is not run here.
  if kubectl kustomize "$here/k8s" >/dev/null; then
    echo "kubectl kustomize: OK"
  else
    echo "kubectl kustomize: FAILED"; status=1
  fi
else
  echo "kubectl kustomize: SKIPPED (kubectl not installed)"
fi
exit $status
