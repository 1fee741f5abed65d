"""Data specs, the German credit default, a synthetic generator and the CSV loader."""
