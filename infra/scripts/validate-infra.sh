#!/usr/bin/env bash
# Validates the deployment files with the real tools (.ci/run calls it after lint):
#   promtool   check config (infra/monitoring/prometheus.yml and the rules it loads), check rules
#              (alerts, and the dashboard's and the worker ScaledObject's queries), test rules
#              (alerts.test.yml: each alert fires when it should)
#   compose    `docker compose config` or Debian's docker-compose: the compose file against its schema
#   kubectl    `kubectl kustomize`: the kustomization and everything it includes render
# A missing promtool fails; a missing compose or kubectl is reported and skipped. The structure of
# the manifests and the metric names in every query are checked by npm test
# (test/infra/deploy-files.test.ts, test/e2e/deployment.test.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== promtool: prometheus.yml, alert rules and their unit tests"
promtool check config --lint=all infra/monitoring/prometheus.yml
promtool check rules --lint=all infra/monitoring/alerts.yml
promtool test rules infra/monitoring/alerts.test.yml

echo "== promtool: the dashboard's and the scaling triggers' queries parse"
node --import tsx infra/scripts/monitoring-queries.ts > "$tmp/queries.json"
promtool check rules "$tmp/queries.json"

echo "== compose file"
# Placeholder secrets: the file refuses to render without them, as it does for an operator.
compose_env=(ADMIN_TOKEN=validate WEBHOOK_ENCRYPTION_KEY=validate)
if docker compose version >/dev/null 2>&1; then
  env "${compose_env[@]}" docker compose -f infra/docker/docker-compose.yml config -q
  echo "docker compose config: valid"
elif command -v docker-compose >/dev/null; then
  env "${compose_env[@]}" docker-compose -f infra/docker/docker-compose.yml config -q
  echo "docker-compose config: valid"
else
  echo "SKIPPED: neither docker compose nor docker-compose is installed"
fi

echo "== kubernetes manifests"
if command -v kubectl >/dev/null; then
  kubectl kustomize infra/k8s > "$tmp/k8s.yaml"
  echo "kubectl kustomize: $(grep -c '^kind:' "$tmp/k8s.yaml") objects rendered"
else
  echo "SKIPPED: kubectl is not installed (no kustomize render)"
fi
