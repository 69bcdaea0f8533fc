"""rxlab: services/normaliser."""
