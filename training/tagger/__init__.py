"""rxlab: training/tagger — the token classifier: data from the corpus, training, alignment."""
