"""The Airflow plugin: the authenticated model-sync app under /admin/model-sync and its pages in the UI's navigation.

Airflow 3 loads plugins from the deployment, never from a DAG bundle. Install this package next to Airflow
(`pip install` of the repository registers the `airflow.plugins` entry point below as `gatewayz_sync`), or put
`plugins/gatewayz_catalog_plugin.py` in the plugins folder with the repository on the path, as compose and
`make run` do; one of the two, not both (Airflow skips a second plugin of the same name and reports it).
"""

from airflow.plugins_manager import AirflowPlugin

from .app import URL_PREFIX, create_app


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
