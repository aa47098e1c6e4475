"""Publishing the catalog in the formats other tools read: LiteLLM's cost map, an OpenRouter-style models list, our
own catalog export with price history, and the manifest; written through Airflow's object storage."""
