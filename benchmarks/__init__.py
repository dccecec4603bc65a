"""The benchmark suite behind ``make bench``: six figures, each a ratio with its target."""
