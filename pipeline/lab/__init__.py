"""Lab: the example network's FRR devices as Linux network namespaces (no path to the outside)."""
