"""HFP (Helsinki Region Transport high-frequency positioning): ``/hfp/v2/journey/ongoing/...``."""

from adapters.hfp.adapter import HfpAdapter

__all__ = ["HfpAdapter"]
