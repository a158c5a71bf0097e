"""Intent: load YAML with positions, validate it into a typed model, check its semantics."""
