-- Runs once when the postgres volume is created: the catalog database lives beside Airflow's metadata DB.
CREATE USER gatewayz WITH PASSWORD 'gatewayz';
CREATE DATABASE gatewayz OWNER gatewayz;
