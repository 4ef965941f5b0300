"""The method: network, rank pre-training, features, linear probe, and the envelope of what training saw."""
