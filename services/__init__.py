"""rxlab: services."""
