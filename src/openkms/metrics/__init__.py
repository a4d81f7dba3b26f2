"""Metrics for an operator's monitoring (prometheus-client), and /metrics's access rule."""
