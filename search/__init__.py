"""Pruned Optuna studies over mnistnet configurations, stored in SQLite (or any SQLAlchemy URL)."""
