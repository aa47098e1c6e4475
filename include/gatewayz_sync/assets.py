"""Assets shared between DAGs (kept here: importing one DAG file from another would re-register its DAG).

The catalog's tables are named under the `x-gatewayz` scheme: Airflow normalizes any other scheme (but `file`)
through every installed provider's asset URI handlers, loaded on the first Asset a process makes, and the Amazon
provider's imports boto3: ~0.13 s in every task process and DAG parse, where an `x-` URI is taken as written.
"""

from airflow.sdk import Asset

PROVIDERS_ASSET = Asset(name="gatewayz_providers", uri="x-gatewayz://catalog/public/providers")
MODELS_ASSET = Asset(name="gatewayz_models", uri="x-gatewayz://catalog/public/models")
PRICES_ASSET = Asset(name="gatewayz_prices", uri="x-gatewayz://catalog/public/model_prices")


def published_assets(base_url: str | None) -> dict[str, Asset]:
    """The publish DAG's outlets: one Asset per published file, named by the file's URI under GATEWAYZ_PUBLISH_URL
    (none when publishing is not configured). The URI is the name too: a name must belong to one URI, so a changed
    GATEWAYZ_PUBLISH_URL makes new assets instead of clashing with the old ones."""
    from .publish.storage import FILES, MANIFEST

    if not base_url:
        return {}
    files = {**FILES, "manifest": MANIFEST}
    return {name: Asset(name=f"{base_url}/{file}", uri=f"{base_url}/{file}") for name, file in files.items()}
