"""Named search spaces: each maps an Optuna trial to a (NetConfig, Recipe)."""
