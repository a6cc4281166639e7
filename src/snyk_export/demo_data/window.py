"""The four years before ``now`` that every timestamp of the world lies in."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WINDOW_DAYS = 4 * 365


@dataclass(frozen=True)
class Window:
    """The span of the world, in milliseconds since the epoch."""

    start_ms: int
    now_ms: int


def epoch_ms(moment: datetime.datetime) -> int:
    """Milliseconds since the epoch; a naive ``moment`` is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return (moment - datetime.datetime(1970, 1, 1)) // datetime.timedelta(
        milliseconds=1
    )
