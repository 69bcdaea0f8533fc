"""rxlab: training/normaliser — the match calibration, measured on the corpus through the serving stages."""
