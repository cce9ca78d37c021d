"""Site probes: one module per kind, one async signature for all (see base.Probe)."""
