"""RFC 8428 SenML JSON pack: the wire model (section 4 of the RFC)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, RootModel

from hub.validation import WireModel

__all__ = ["SenMLPack", "SenMLRecord"]


class SenMLRecord(WireModel):
    bn: str | None = None  # base name: prefix of this and later records' names
    bt: float | None = None  # base time (s)
    bu: str | None = None  # base unit
    bv: float | None = None  # base value, added to v
    bs: float | None = None  # base sum, added to s
    bver: int | None = None
    n: str | None = None
    u: str | None = None
    v: float | None = None
    vs: str | None = None
    vb: bool | None = None
    vd: str | None = None
    s: float | None = None  # sum: the value of a cumulative register
    t: float | None = None  # time, relative to bt; below 2**28 relative to now
    ut: float | None = None


class SenMLPack(RootModel[list[SenMLRecord]]):
    model_config = ConfigDict(strict=True, allow_inf_nan=False)
    root: list[SenMLRecord] = Field(min_length=1, max_length=1000)
