"""Scheduled upkeep: functions the platform runs on a timer, not on a request."""
