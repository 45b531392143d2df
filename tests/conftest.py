"""Shared test settings: a deterministic hypothesis profile sized for a 2-core CI box."""
from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
