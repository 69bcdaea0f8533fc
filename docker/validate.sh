#!/usr/bin/env bash
# Check docker/ without a Docker engine (images cannot be built here); exit non-zero on any error.
#   1. shellcheck docker/entrypoint.sh, and its `help` and unknown-role paths run
#   2. every Dockerfile: its requirements file and COPY sources exist, its .dockerignore exists, it runs as
#      uid 10001 through rxlab-entrypoint
#   3. compose.yml alone and with compose.override.yml: `docker compose config` (Compose v2) or, without it,
#      `docker-compose config` (Debian's Compose 1.29, which predates the top-level `name:`, so that line is
#      dropped from the copy it reads); then rxlab's rules on the merged result (read-only, uid 10001, no
#      capabilities, /tmp tmpfs, healthchecks, start order)
# Needs: shellcheck, and docker compose v2 or docker-compose (apt-get install shellcheck docker-compose), and a
# Python with PyYAML (PYTHON, default .venv/bin/python, else python3).
set -euo pipefail

docker_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$docker_dir")"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if [[ -x "$repo/.venv/bin/python" ]]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
failed=0
fail() { echo "  FAIL $*"; failed=1; }

echo "== entrypoint"
if command -v shellcheck >/dev/null; then
    if shellcheck "$docker_dir/entrypoint.sh"; then echo "  ok: shellcheck"; else fail "shellcheck docker/entrypoint.sh"; fi
else
    fail "shellcheck is not installed (apt-get install shellcheck)"
fi
sh "$docker_dir/entrypoint.sh" help >/dev/null || fail "entrypoint.sh help"
rc=0
sh "$docker_dir/entrypoint.sh" healthcheck no-such-role 2>/dev/null || rc=$?
if [[ $rc == 2 ]]; then echo "  ok: help, unknown role refused"; else fail "entrypoint.sh healthcheck no-such-role exited $rc, not 2"; fi

echo "== Dockerfiles"
for dockerfile in "$docker_dir"/*.Dockerfile; do
    service="$(basename "$dockerfile" .Dockerfile)"
    before=$failed
    failed=0
    [[ -f "$repo/requirements/$service.txt" ]] || fail "$service: requirements/$service.txt missing"
    [[ -f "$dockerfile.dockerignore" ]] || fail "$service: $(basename "$dockerfile").dockerignore missing"
    grep -q "requirements/$service.txt" "$dockerfile" || fail "$service: does not install requirements/$service.txt"
    grep -qx 'USER 10001:10001' "$dockerfile" || fail "$service: no USER 10001:10001"
    grep -qx 'ENTRYPOINT \["/usr/local/bin/rxlab-entrypoint"\]' "$dockerfile" || fail "$service: entrypoint is not rxlab-entrypoint"
    # COPY sources from the build context (not --from=, not wildcards, which may match nothing on purpose)
    while read -r src; do
        [[ -e "$repo/$src" ]] || fail "$service: COPY source $src missing"
    done < <(awk '/^COPY / && !/--from=/ {for (i = 2; i < NF; i++) if ($i !~ /^--/ && $i !~ /[*?[]/) print $i}' "$dockerfile")
    if ((failed == 0)); then echo "  ok: $service"; fi
    failed=$((failed | before))
done

echo "== compose"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose --project-directory "$docker_dir")
    cp "$docker_dir/compose.yml" "$docker_dir/compose.override.yml" "$work/"
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose --project-directory "$docker_dir")
    for f in compose.yml compose.override.yml; do sed '/^name: /d' "$docker_dir/$f" >"$work/$f"; done
else
    fail "neither docker compose (v2) nor docker-compose is installed (apt-get install docker-compose)"
    compose=()
fi
if ((${#compose[@]})); then
    echo "  with: $("${compose[@]:0:${#compose[@]}-2}" version 2>/dev/null | head -1)"
    for variant in production development; do
        files=(-f "$work/compose.yml")
        [[ $variant == development ]] && files+=(-f "$work/compose.override.yml")
        if "${compose[@]}" "${files[@]}" config >"$work/$variant.yml" 2>"$work/$variant.err"; then
            if "$python" - "$work/$variant.yml" "$variant" <<'EOF'; then echo "  ok: $variant (compose.yml${files[3]:+ + compose.override.yml})"; else fail "$variant: rxlab rules"; fi
import sys
import yaml

config = yaml.safe_load(open(sys.argv[1]))
variant = sys.argv[2]
services = config["services"]
rxlab = {"migrate", "vocab", "gateway", "detector", "ocr", "tagger", "normaliser", "reconciler"}
workers = {"detector", "ocr", "tagger", "normaliser"}
problems = []
missing = (rxlab | {"redis", "postgres"}) - services.keys()
if missing:
    problems.append(f"services missing: {sorted(missing)}")
for name in sorted(rxlab & services.keys()):
    s = services[name]
    if not s.get("read_only"):
        problems.append(f"{name}: not read_only")
    if str(s.get("user")) != "10001:10001":
        problems.append(f"{name}: user is {s.get('user')}, not 10001:10001")
    if "ALL" not in s.get("cap_drop", []):
        problems.append(f"{name}: capabilities not dropped")
    if not any(str(t).split(":")[0] == "/tmp" for t in s.get("tmpfs", [])):
        problems.append(f"{name}: no /tmp tmpfs")
    if "build" not in s:
        problems.append(f"{name}: no build section (its image would be pulled from a registry)")
    env = s.get("environment", {})
    if env.get("RXLAB_ENV") != variant:
        problems.append(f"{name}: RXLAB_ENV is {env.get('RXLAB_ENV')}, not {variant}")
    deps = s.get("depends_on", {})
    if name not in {"migrate", "vocab"}:
        if deps.get("migrate", {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: does not wait for migrate to complete")
        for infra in ("redis", "postgres"):
            if deps.get(infra, {}).get("condition") != "service_healthy":
                problems.append(f"{name}: does not wait for {infra} to be healthy")
        test = s.get("healthcheck", {}).get("test", [])
        if "healthcheck" not in test or name not in test:
            problems.append(f"{name}: healthcheck is not `rxlab-entrypoint healthcheck {name}`")
    elif name == "migrate" and deps.get("postgres", {}).get("condition") != "service_healthy":
        problems.append("migrate: does not wait for postgres to be healthy")
    if name in workers:
        test = s.get("healthcheck", {}).get("test", [])
        if test[-2:] != ["healthcheck", name] or s.get("command") != [name]:
            problems.append(f"{name}: command/healthcheck are not the {name} role and its celery ping")
redis_command = services.get("redis", {}).get("command", [])
if "--appendonly" not in redis_command or redis_command[redis_command.index("--appendonly") + 1] != "yes":
    problems.append("redis: not started with --appendonly yes")
for infra in ("redis", "postgres"):
    if "healthcheck" not in services.get(infra, {}):
        problems.append(f"{infra}: no healthcheck")
published = {n for n, s in services.items() if s.get("ports")}
if variant == "production" and published:
    problems.append(f"production publishes ports: {sorted(published)}")
for problem in problems:
    print(f"    {problem}")
sys.exit(1 if problems else 0)
EOF
        else
            sed 's/^/    /' "$work/$variant.err"
            fail "$variant: compose config"
        fi
    done
fi

if ((failed)); then
    echo "FAILED" >&2
    exit 1
fi
echo "all ok"
