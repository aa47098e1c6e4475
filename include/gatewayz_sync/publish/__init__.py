"""Publishing the catalog in the formats other tools read: LiteLLM's cost map, an OpenRouter-style models list, our
own catalog export with price history, and the manifest, written through Airflow's object storage. The format
modules are pure (they see `records.ExportModel`s); `catalog_publish.py` at the package top reads the store and
writes.
"""
