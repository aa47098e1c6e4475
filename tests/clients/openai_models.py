"""Run by the clients' venv: the real OpenAI Python client's `models.list()` against the base URL in argv[1].
Prints the ids it returned, as JSON, and the client's version."""

import json
import sys
from importlib.metadata import version

result = sys.stdout
sys.stdout = sys.stderr
from openai import OpenAI  # noqa: E402

client = OpenAI(base_url=sys.argv[1], api_key="test-key-not-used", max_retries=0, timeout=30)
json.dump({"openai": version("openai"), "ids": [model.id for model in client.models.list()]}, result)
