"""Keeps an AI gateway's provider and model catalog current: registry, fetch, normalize, load, report.

Inside the package every import is relative, so the same code runs as `include.gatewayz_sync` from a DAG
bundle (the bundle root on `sys.path`) and as an installed `gatewayz_sync` next to the api-server, where
Airflow loads the plugin; the installed copy never shadows the bundle's versioned one.
"""
