"""How long something took or has been, as every face words it: the unit grows with the length,
two units at most, and from ten days on days alone, so a half year or three years stays short
enough for an age cell of six."""

from __future__ import annotations

import pytest

from tui.format import age, duration


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0.0123, "12ms"), (5.25, "5.2s"), (59.9, "59.9s"), (61, "1m01s"), (3599, "59m59s"),
    (3600, "1h00m"), (23 * 3600 + 59 * 60 + 59, "23h59m"), (24 * 3600, "1d00h"), (30 * 3600 + 59 * 60, "1d06h"),
    (9 * 86_400 + 23 * 3600, "9d23h"), (10 * 86_400 + 3600, "10d"), (188 * 86_400 + 13 * 3600 + 5, "188d"),
    (1045 * 86_400 + 4 * 3600, "1045d"),
])
def test_the_unit_grows_with_the_length(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_an_age_half_a_year_old_reads_in_days() -> None:
    assert age(1_000.0, 1_000.0 + 188 * 86_400 + 3600) == "188d ago"
