"""rxlab: shared."""
