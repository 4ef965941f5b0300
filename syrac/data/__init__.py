"""Real datasets in their official layouts, and the evaluation sets built from them or from the simulator."""
