"""SenML (RFC 8428) building energy meters."""

from adapters.senml.adapter import SenMLAdapter

__all__ = ["SenMLAdapter"]
