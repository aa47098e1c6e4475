"""What operators see: the authenticated status API, triggers and the Model catalog page (an Airflow plugin app)."""
