"""``make bench``: throughput, intake load and memory figures, each with the ratio it is judged by."""
