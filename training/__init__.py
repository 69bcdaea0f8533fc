"""rxlab: training."""
