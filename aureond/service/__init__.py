"""Wiring and lifecycle: configuration, logging, the node, systemd notification."""
