"""Readiness rules: pure functions ``(snapshot, policy, context) -> [Outcome]``, one module per
category, registered in ``readiness.catalogue``."""
