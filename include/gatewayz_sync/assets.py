"""Assets shared between DAGs (kept here: importing one DAG file from another would re-register its DAG)."""

from airflow.sdk import Asset

PROVIDERS_ASSET = Asset(name="gatewayz_providers", uri="postgres://gatewayz-db:5432/gatewayz/public/providers")
MODELS_ASSET = Asset(name="gatewayz_models", uri="postgres://gatewayz-db:5432/gatewayz/public/models")
