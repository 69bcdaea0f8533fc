"""rxlab: services/detector."""
