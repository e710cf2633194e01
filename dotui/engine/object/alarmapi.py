"""The alarm half of ``ctx.storage``, the same for both backends (README, "Alarms").

A storage class mixes this in and keeps ``_alarm`` (epoch seconds or None),
``_has_alarm_handler`` and ``_closed``, and writes the alarm with ``_set_alarm(when)``.
"""

from __future__ import annotations

import datetime as _dt

from .limits import to_epoch


class AlarmApi:
    """``get_alarm``/``set_alarm``/``delete_alarm`` and the engine's fired-alarm steps."""

    _alarm: float | None
    _has_alarm_handler: bool
    _closed: bool

    def _set_alarm(self, when: float | None) -> None:
        raise NotImplementedError

    def get_alarm(self) -> _dt.datetime | None:
        if self._alarm is None:
            return None
        return _dt.datetime.fromtimestamp(self._alarm, _dt.UTC)

    def set_alarm(self, when: _dt.datetime | float) -> None:
        """Set the object's one alarm (a datetime, or epoch seconds); replaces any other.

        A time that names no moment (NaN, infinite, outside the years 1..9999) raises
        ValueError, and nothing is stored.
        """
        if not self._has_alarm_handler:
            raise TypeError(
                "Your Durable Object class must have an alarm() handler in order to call set_alarm(); "
                "this class has no alarm() method: define `async def alarm(self, info)` on it"
            )
        self._set_alarm(to_epoch(when))

    def delete_alarm(self) -> None:
        if self._alarm is not None:
            self._set_alarm(None)

    # ---------------------------------------------------------------- the alarm that fires
    # As Cloudflare: while alarm() runs, get_alarm() is None unless the handler sets a new alarm;
    # the fired alarm is deleted for good only once the handler has succeeded.
    def begin_fired_alarm(self, alarm_time: float) -> bool:
        """The alarm set for ``alarm_time`` starts firing: get_alarm() reads None from now on.

        Nothing is written: until ``clear_fired_alarm``, the alarm is still on disk, so a crash
        or a failure fires it again. False (and nothing changes) if the alarm is no longer
        ``alarm_time``: it was replaced or deleted since it fell due.
        """
        if self._alarm != alarm_time:
            return False
        self._alarm = None
        return True

    def clear_fired_alarm(self, alarm_time: float) -> None:
        """The handler of ``alarm_time`` succeeded: the alarm is deleted for good (committed as
        any write), unless the handler set a new one, which stands."""
        if not self._closed and self._alarm is None:
            self._set_alarm(None)

    def restore_fired_alarm(self, alarm_time: float) -> None:
        """The handler of ``alarm_time`` failed: the alarm is set again, for its retry, unless the
        handler set a new one, which stands (Cloudflare retries only the latest set_alarm)."""
        if not self._closed and self._alarm is None:
            self._set_alarm(alarm_time)
