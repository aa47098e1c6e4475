"""The catalog database: schema migrations and the SQL that reads and writes providers, models and runs."""
