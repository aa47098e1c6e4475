#!/usr/bin/env bash
# One-shot start-up: Airflow metadata migrations, the admin login, the HTTP pool if GATEWAYZ_HTTP_POOL names one
# (none is needed), DAG registration, then the deploy hook (provider sync, which migrates the catalog schema)
# and, if asked, an immediate model sync.
set -euo pipefail
airflow db migrate
python - <<'PY'
import json, os
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
with open(path, "w") as handle:
    json.dump({os.environ.get("AIRFLOW_ADMIN_USER", "admin"): os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
PY
if [ -n "${GATEWAYZ_HTTP_POOL:-}" ]; then
  airflow pools set "$GATEWAYZ_HTTP_POOL" "${GATEWAYZ_HTTP_POOL_SLOTS:-8}" "gatewayz model-list requests"
fi
airflow dags reserialize
airflow dags unpause gatewayz_sync_providers
airflow dags trigger gatewayz_sync_providers
# Each model sync is then priced, and published where GATEWAYZ_PUBLISH_URL says (unset: nowhere, paused).
airflow dags unpause gatewayz_sync_prices
if [ -n "${GATEWAYZ_PUBLISH_URL:-}" ]; then
  airflow dags unpause gatewayz_publish_catalog
fi
if [ "${SYNC_MODELS_ON_STARTUP:-false}" = "true" ]; then
  airflow dags unpause gatewayz_sync_models
  airflow dags trigger gatewayz_sync_models
fi
