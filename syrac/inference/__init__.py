"""Counting with a trained counter: images (`syrac count`) and cached benchmark features (evaluation)."""
