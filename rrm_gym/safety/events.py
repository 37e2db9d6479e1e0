"""Events, change requests and the priority queue that orders them."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

import numpy as np

from rrm_gym.checks import is_number, require_int


class EventType(IntEnum):
    """Event kinds; the value is the priority (lower is handled first)."""

    DFS_RADAR = 0  # emergency: regulatory deadline
    NON_WIFI_INTERFERENCE = 1
    SPECTRUM_SATURATION = 2
    DEGRADATION = 3  # from the rollback monitor
    CHANGE_REQUEST = 4  # fast loop, slow loop or a person


class Source(str, Enum):
    DETECTED = "detected"  # a detector saw it in the sensing
    INJECTED = "injected"  # inject_* API (tests, demos, drills)
    AGENT = "agent"  # fast or slow loop policy
    MANUAL = "manual"  # a person
    RULE = "rule"  # the event loop's own handlers (emergency moves, rollbacks)


class Outcome(str, Enum):
    APPLIED = "APPLIED"
    MODIFIED = "MODIFIED"  # applied with changes (power clipped, width narrowed)
    REJECTED = "REJECTED"
    # not applied because the network's channel-change budget for this instant is spent: nothing
    # changed and nothing is wrong with the request; ask again at a later instant
    DEFERRED = "DEFERRED"


PARAMS = ("channel", "width_mhz", "power_dbm")


@dataclass(slots=True)
class ChangeRequest:
    """A requested configuration change of one AP; unset parameters are left as they are.

    Read-only by convention, like :class:`ShieldResult` (the loop keeps the requests it was
    given in its results): not frozen, because a frozen dataclass takes three times as long
    to build, and an agent's step builds one per AP."""

    ap: int
    channel: int | None = None
    width_mhz: int | None = None
    power_dbm: float | None = None
    network: int = 0
    source: Source = Source.AGENT
    loop: str | None = "manual"  # "fast", "slow", "manual", "rule" (LOOPS); a label, audited as text
    emergency: bool = False  # bypasses cooldown (DFS moves)
    reason: str = ""

    def params(self) -> dict[str, Any]:
        """The parameters this request sets, in :data:`PARAMS` order."""
        out: dict[str, Any] = {}
        if self.channel is not None:
            out["channel"] = self.channel
        if self.width_mhz is not None:
            out["width_mhz"] = self.width_mhz
        if self.power_dbm is not None:
            out["power_dbm"] = self.power_dbm
        return out


LOOPS = ("fast", "slow", "manual", "rule")


def check_request(request: Any) -> ChangeRequest:
    """``request`` with the types of its fields checked, before anything is shielded, applied or
    audited (``TypeError`` / ``ValueError`` naming the field); numpy integers become ``int`` and a
    source given as its text (``"agent"``) becomes the :class:`Source`, so that what the shield
    and the audit see is what the request is. Values (an AP out of range, a NaN power, an illegal
    channel) are the shield's to refuse, with a result and an audit record."""
    if not isinstance(request, ChangeRequest):
        raise TypeError(f"expected a ChangeRequest, got {type(request).__name__}")
    ap = request.ap if type(request.ap) is int else require_int("ChangeRequest.ap", request.ap)
    network = request.network if type(request.network) is int else require_int("ChangeRequest.network", request.network)
    for name in ("channel", "width_mhz", "power_dbm"):  # numbers: the shield judges their values
        value = getattr(request, name)
        if value is not None and not is_number(value):
            raise TypeError(f"ChangeRequest.{name} must be a number, got {type(value).__name__} {value!r}")
    source = request.source
    if type(source) is not Source:
        try:
            source = Source(source)
        except ValueError:
            raise ValueError(
                f"ChangeRequest.source must be one of {', '.join(s.value for s in Source)}, got {source!r}"
            ) from None
    if request.loop is not None and not isinstance(request.loop, str):  # a label, audited as text
        raise TypeError(
            f"ChangeRequest.loop must be a string ({', '.join(LOOPS)}) or None, got {type(request.loop).__name__}"
        )
    if not isinstance(request.emergency, (bool, np.bool_)):
        raise TypeError(f"ChangeRequest.emergency must be True or False, got {request.emergency!r}")
    if not isinstance(request.reason, str):
        raise TypeError(f"ChangeRequest.reason must be a string, got {type(request.reason).__name__}")
    if ap is request.ap and network is request.network and source is request.source and type(request.emergency) is bool:
        return request
    return ChangeRequest(
        ap,
        request.channel,
        request.width_mhz,
        request.power_dbm,
        network,
        source,
        request.loop,
        bool(request.emergency),
        request.reason,
    )


@dataclass(slots=True)
class ShieldResult:
    """What the shield decided about one request, and why (read-only by convention: not frozen,
    because a frozen dataclass costs a microsecond more to build, once per request)."""

    outcome: Outcome
    reason: str
    request: ChangeRequest
    applied: dict[str, Any] = field(default_factory=dict)  # the values actually set
    previous: dict[str, Any] | None = None  # the AP's channel, width and power when it was checked

    @property
    def accepted(self) -> bool:
        """Whether the request was applied (as asked or modified)."""
        return self.outcome is Outcome.APPLIED or self.outcome is Outcome.MODIFIED


@dataclass(slots=True)
class Event:
    """Something the loop handles: a detection, an injection or a change request (read-only by
    convention, like :class:`ShieldResult`)."""

    type: EventType
    network: int
    ap: int
    source: Source
    detected_s: float  # when the condition was seen (start of the detecting tick)
    data: dict[str, Any] = field(default_factory=dict)
    request: ChangeRequest | None = None


class EventQueue:
    """Priority queue: emergencies first, first-in first-out within a priority."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = itertools.count()

    def push(self, event: Event) -> None:
        heapq.heappush(self._heap, (int(event.type), next(self._seq), event))

    def pop(self) -> Event:
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)
