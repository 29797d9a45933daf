"""tps-exporter: which polling stations (TPS) can send their results right now."""

__version__ = "0.1.0"
