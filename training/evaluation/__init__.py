"""``make eval``: the complete pipeline over the corpus' test split, scored field by field."""
