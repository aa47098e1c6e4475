"""Airflow plugin: the authenticated model-sync status API under /admin/model-sync, the "Model catalog" page and the model browser."""

from airflow.plugins_manager import AirflowPlugin

from include.gatewayz_sync.web.app import URL_PREFIX, create_app


class GatewayzCatalogPlugin(AirflowPlugin):
    name = "gatewayz_catalog"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "gatewayz model sync"}]
    external_views = [
        {
            "name": "Model catalog",
            "href": f"{URL_PREFIX}/page",
            "url_route": "model-catalog",
            "destination": "nav",
            "category": "Browse",
        },
        {
            "name": "Model browser",
            "href": f"{URL_PREFIX}/models",
            "url_route": "model-browser",
            "destination": "nav",
            "category": "Browse",
        },
    ]
