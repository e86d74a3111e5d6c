"""Timer schedules as the Functions timer trigger reads them: the top-level `ncrontab` package
(shared with the app), its refusals raised as devhost's `ConfigError`."""

from __future__ import annotations

import ncrontab
from devhost.errors import ConfigError
from ncrontab import ConstantSchedule, CronSchedule, Schedule, ScheduleError

__all__ = ["ConstantSchedule", "CronSchedule", "Schedule", "parse_schedule"]


def parse_schedule(expression: str) -> Schedule:
    """A cron expression, else a TimeSpan; anything else is refused, as the timer trigger does."""
    try:
        return ncrontab.parse_schedule(expression)
    except ScheduleError as exc:
        raise ConfigError(str(exc)) from exc
