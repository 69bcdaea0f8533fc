"""rxlab: services/tagger."""
