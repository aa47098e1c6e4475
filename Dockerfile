# The Airflow image every compose service runs: the pinned Airflow plus this project's pinned dependencies.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11
COPY requirements.txt constraints.txt /tmp/gatewayz/
RUN pip install --no-cache-dir -r /tmp/gatewayz/requirements.txt -c /tmp/gatewayz/constraints.txt
