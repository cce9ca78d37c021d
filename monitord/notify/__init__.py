"""Notifiers: one module per destination, one small Protocol (base.Notifier)."""
