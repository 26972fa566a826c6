"""Report schedules: slots computed from APScheduler's own triggers, never from when the bot
happened to run, so a restart neither repeats a slot nor replays missed ones; crontab's own
meaning of day numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.schedules import ReportSchedule

T0 = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)  # a Friday


def _interval(**kw: object) -> ReportSchedule:
    return ReportSchedule.model_validate(
        {
            "cluster": "lab",
            "channel": "C1",
            "user_id": "U1",
            "every": "1h",
            "interval": 3600,
            "created": T0.timestamp(),
            **kw,
        }
    )


def test_interval_slots_count_from_creation() -> None:
    s = _interval()
    assert s.next_slot(T0 + timedelta(minutes=10)) == T0 + timedelta(hours=1)


def test_the_slot_just_posted_is_not_posted_again_after_a_restart() -> None:
    slot = T0 + timedelta(hours=1)
    s = _interval(last_slot=slot.timestamp())
    # A restart half a second after posting: the next slot is the following one.
    assert s.next_slot(slot + timedelta(seconds=0.5)) == T0 + timedelta(hours=2)
    # Even a clock a little behind the slot does not give the same slot back.
    assert s.next_slot(slot - timedelta(seconds=2)) == T0 + timedelta(hours=2)


def test_missed_slots_are_skipped_not_replayed() -> None:
    s = _interval(last_slot=(T0 + timedelta(hours=1)).timestamp())
    down_until = T0 + timedelta(hours=5, minutes=30)
    assert s.next_slot(down_until) == T0 + timedelta(hours=6)


def test_crontab_in_the_configured_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    s = ReportSchedule(
        cluster="lab",
        channel="C1",
        user_id="U1",
        every="0 9 * * 1-5",
        cron="0 9 * * 1-5",
        timezone="Europe/Berlin",
    )
    friday_10 = datetime(2026, 11, 27, 10, 0, tzinfo=berlin)
    assert s.next_slot(friday_10) == datetime(2026, 11, 30, 9, 0, tzinfo=berlin)
    assert s.when == "cron `0 9 * * 1-5` Europe/Berlin"
    monday_9 = datetime(2026, 11, 30, 9, 0, tzinfo=berlin)
    posted = s.model_copy(update={"last_slot": monday_9.timestamp()})
    assert posted.next_slot(monday_9) == datetime(2026, 12, 1, 9, 0, tzinfo=berlin)


def test_crontab_day_numbers_mean_what_crontab_means() -> None:
    # APScheduler 3 reads 0 as Monday; crontab (and the people typing it) mean Sunday.
    from bot.core.schedules import crontab_trigger

    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    cases = {
        "0 9 * * 0": datetime(2026, 11, 29, 9, 0, tzinfo=UTC),  # Sunday
        "0 9 * * 7": datetime(2026, 11, 29, 9, 0, tzinfo=UTC),  # Sunday too
        "0 9 * * 1-5": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),  # Monday
        "0 9 * * 6": datetime(2026, 12, 5, 9, 0, tzinfo=UTC),  # next Saturday
        "0 9 * * mon-fri": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        "0 9 * * */2": datetime(2026, 11, 29, 9, 0, tzinfo=UTC),  # sun,tue,thu,sat
        "30 13 * * *": datetime(2026, 11, 28, 13, 30, tzinfo=UTC),
    }
    for line, expected in cases.items():
        assert crontab_trigger(line, "UTC").get_next_fire_time(None, saturday) == expected, line
