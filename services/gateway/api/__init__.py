"""The gateway's HTTP API, one blueprint per feature."""
