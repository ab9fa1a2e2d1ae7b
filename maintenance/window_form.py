"""The window form of the calendar page (new window) and of a window's page (edit): the
fields as sent, and the window_create/window_update arguments they stand for."""

from __future__ import annotations

from datetime import date, time

from django.core.exceptions import ValidationError

from . import occurrences, recurrence
from .models import Window

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDINALS = ((1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (-1, "last"))
TEXT_FIELDS = ("ordinal", "weekday", "month_day", "interval", "once", "rrule")


def defaults(tz: str) -> dict:
    """The new-window form's first values."""
    return {
        "kind": "weekly",
        "weekdays": ["sun"],
        "interval": "2",
        "ordinal": "2",
        "weekday": "tue",
        "month_day": "1",
        "start_time": "03:00",
        "duration_minutes": "60",
        "tz": tz,
        "name": "",
        "cluster": "",
    }


def sent_from(post) -> dict:
    """The form's fields as sent (shown again as typed when something is wrong)."""
    return {
        "cluster": post.get("cluster", ""),
        "kind": post.get("kind", "weekly"),
        "weekdays": [d for d in post.getlist("weekdays") if d in WEEKDAYS],
        "start_time": post.get("start_time", ""),
        "duration_minutes": post.get("duration_minutes", ""),
        "tz": post.get("tz", ""),
        "name": post.get("name", ""),
        **{key: post.get(key, "").strip() for key in TEXT_FIELDS},
    }


def of_window(window: Window) -> dict:
    """The edit form filled from WINDOW (its rule split into the simple kinds' fields)."""
    form = defaults(window.tz)
    kind = window.kind
    parts = dict(p.split("=", 1) for p in window.rrule.split(";"))
    form.update(
        kind=kind,
        name=window.name,
        start_time=f"{window.start_time:%H:%M}",
        duration_minutes=str(window.duration_minutes),
        rrule=window.rrule if kind == "custom" else "",
        once=window.active_from.isoformat() if kind == "once" else "",
        cluster=str(window.cluster_id),
    )
    if kind in ("weekly", "every_n_weeks"):
        codes = parts["BYDAY"].split(",")
        form["weekdays"] = [WEEKDAYS[recurrence.DAY_CODES.index(c)] for c in codes]
        form["interval"] = parts.get("INTERVAL", "2")
    elif kind == "monthly_weekday":
        form["ordinal"], code = parts["BYDAY"][:-2], parts["BYDAY"][-2:]
        form["weekday"] = WEEKDAYS[recurrence.DAY_CODES.index(code)]
    elif kind == "monthly_day":
        form["month_day"] = parts["BYMONTHDAY"]
    return form


def times(sent: dict) -> tuple[time, int]:
    """(local start, duration in minutes); ValidationError when they do not parse."""
    try:
        return time.fromisoformat(sent["start_time"]), int(sent["duration_minutes"])
    except ValueError:
        raise ValidationError("Give the start as HH:MM and the duration in minutes.") from None


def schedule(sent: dict) -> dict:
    """The window_create arguments for the form's kind (weekly, monthly by weekday, monthly by
    day, every N weeks, once, custom RRULE); ValidationError for a bad entry."""
    kind = sent["kind"]
    try:
        if kind == "weekly":
            return {"weekdays": ",".join(sent["weekdays"])}
        if kind == "every_n_weeks":
            days = occurrences.parse_weekdays(",".join(sent["weekdays"]))
            interval = int(sent["interval"] or "0")
            if not 2 <= interval <= 52:
                raise ValidationError("Every N weeks: N is 2 to 52.")
            return {"rrule": recurrence.weekly(days, interval)}
        if kind == "monthly_weekday":
            ordinal = int(sent["ordinal"] or "0")
            if ordinal not in (1, 2, 3, 4, 5, -1):
                raise ValidationError("Choose first, second, third, fourth, fifth or last.")
            day = occurrences.parse_weekdays(sent["weekday"])[0]
            return {"rrule": recurrence.monthly_weekday(ordinal, day)}
        if kind == "monthly_day":
            return {"rrule": recurrence.monthly_day(int(sent["month_day"] or "0"))}
        if kind == "once":
            return {"once": date.fromisoformat(sent["once"])}
        if kind == "custom":
            return {"rrule": sent["rrule"] or " "}
    except occurrences.ScheduleError as exc:
        raise ValidationError(str(exc)) from None
    except ValueError:
        raise ValidationError(f"Check the fields of '{recurrence.KINDS.get(kind)}'.") from None
    raise ValidationError("Choose the kind of window.")
