"""The benchmark suite behind ``make bench``: seven figures, each a ratio with its target."""
