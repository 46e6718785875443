"""Hypothesis strategies for the simulator tests, in one place."""

from __future__ import annotations

from hypothesis import strategies as st

NS = 1_000_000_000

seeds = st.integers(min_value=0, max_value=2**31 - 1)
# A moment between 2024 and 2028, on a whole second (UTC ns).
moments_ns = st.integers(min_value=1_704_067_200, max_value=1_830_297_600).map(lambda s: s * NS)
# A window length of 2 to 15 minutes (ns).
windows_ns = st.integers(min_value=120, max_value=900).map(lambda s: s * NS)
