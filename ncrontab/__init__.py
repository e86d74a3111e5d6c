"""Timer schedules as the Functions timer trigger reads them (WebJobs extensions `TimerSchedule`).

A package of its own, so the app (watchlist schedules) and devhost (the timer trigger) read
schedules with one parser; the app never imports devhost.

- NCRONTAB with six fields, `{second} {minute} {hour} {day} {month} {day-of-week}`, or five
  (no seconds, as NCrontab accepts them too). Each field takes `*`, numbers, ranges `a-b`, steps
  `*/n`, `a-b/n` and `a/n`, and lists `a,b`; months and days of the week also by their English
  abbreviations (`Jan`, `Mon`; Sunday is 0). As in NCrontab, day and day-of-week must both match.
- A TimeSpan, `hh:mm:ss` (or `d.hh:mm:ss`; with a first number of 24 or more, `dd:hh:mm`, as the
  docs say): the next run is always `now + interval`, not aligned to the clock.
Times are UTC, the Functions default (WEBSITE_TIME_ZONE is not honoured here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta


class ScheduleError(ValueError):
    """An expression that is not a schedule, or one that names no time."""


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (lowest, highest, names) per field, seconds first.
_FIELDS: list[tuple[int, int, list[str] | None]] = [
    (0, 59, None),
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
]
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d+)(?::(\d+))?$")
_SEARCH_YEARS = 5


def _value(text: str, low: int, names: list[str] | None, expression: str) -> int:
    if names is not None and text.lower()[:3] in names and not text.isdigit():
        return names.index(text.lower()[:3]) + (1 if names is _MONTHS else 0)
    if not text.isdigit():
        raise ScheduleError(f"{expression!r} is not a valid NCRONTAB expression ({text!r})")
    return int(text)


def _field(text: str, low: int, high: int, names: list[str] | None, expression: str) -> frozenset:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise ScheduleError(f"{expression!r} is not a valid NCRONTAB expression ({part!r})")
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            start = _value(first, low, names, expression)
            end = _value(last, low, names, expression)
        else:
            start = _value(spec, low, names, expression)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"{expression!r} is not a valid NCRONTAB expression ({part!r})")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: frozenset
    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset  # 0 = Sunday

    adjust_for_dst = True

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after `moment` (whole seconds) that the schedule names."""
        at = moment.replace(microsecond=0) + timedelta(seconds=1)
        limit = moment + timedelta(days=366 * _SEARCH_YEARS)
        while at <= limit:
            if at.month not in self.months:
                at = _next_month(at)
            elif at.day not in self.days or (at.weekday() + 1) % 7 not in self.weekdays:
                at = at.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif at.hour not in self.hours:
                at = at.replace(minute=0, second=0) + timedelta(hours=1)
            elif at.minute not in self.minutes:
                at = at.replace(second=0) + timedelta(minutes=1)
            elif at.second not in self.seconds:
                at += timedelta(seconds=1)
            else:
                return at
        raise ScheduleError(f"{self.expression!r} names no time in the next {_SEARCH_YEARS} years")


@dataclass(frozen=True)
class ConstantSchedule:
    expression: str
    interval: timedelta

    adjust_for_dst = False

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


Schedule = CronSchedule | ConstantSchedule


def _next_month(at: datetime) -> datetime:
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)


def _timespan(expression: str) -> ConstantSchedule | None:
    match = _TIMESPAN.match(expression.strip())
    if match is None:
        return None
    days, first, second, third = match.groups()
    a, b, c = int(first), int(second), int(third or 0)
    if days is None and third is not None and a >= 24:
        interval = timedelta(days=a, hours=b, minutes=c)
    else:
        interval = timedelta(days=int(days or 0), hours=a, minutes=b, seconds=c)
    if interval <= timedelta(0):
        raise ScheduleError(f"the timer interval {expression!r} must be positive")
    return ConstantSchedule(expression, interval)


def parse_schedule(expression: str) -> Schedule:
    """A cron expression, else a TimeSpan; anything else is refused, as the timer trigger does."""
    parts = expression.split()
    if len(parts) in (5, 6):
        if len(parts) == 5:
            parts = ["0", *parts]
        sets = [
            _field(part, low, high, names, expression)
            for part, (low, high, names) in zip(parts, _FIELDS, strict=True)
        ]
        return CronSchedule(expression, *sets)
    constant = _timespan(expression)
    if constant is not None:
        return constant
    raise ScheduleError(
        f"The schedule expression '{expression}' was not recognized as a valid cron expression "
        "or timespan string."
    )
