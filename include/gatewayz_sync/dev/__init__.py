"""Tools around the product: local mode (make run/demo), the replay server and the operator CLI."""
