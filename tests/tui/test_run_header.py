"""The run screen's header line fits the terminal: at 80 columns a long run id, workstream,
counts, elapsed, ETA and cost wrapped onto a second line and pushed the step's activity out."""

from __future__ import annotations

from rich.text import Text

from tui.screens.run import summary_line

RUN = "1015c04a068f"
COUNTS = "██▓▒▒░░░  32% 19/60 ✘1 ↷17"


def line(width: int, cost: str | None = "?", left: str | None = "ETA 11.2s", state: str = "▶ running") -> str:
    text = summary_line(RUN, Text(state), "nightly-quality", Text(COUNTS), "elapsed 18.1s", left,
                        None if cost is None else Text(cost), width)
    assert text.cell_len <= width - 1 and "\n" not in text.plain
    return text.plain


def test_everything_shows_when_there_is_room() -> None:
    assert line(160) == f" {RUN}  ▶ running  nightly-quality  {COUNTS}  elapsed 18.1s  ETA 11.2s  cost ?"


def test_what_gives_way_first_is_an_unknown_cost_then_the_long_run_id_then_the_workstream() -> None:
    assert line(100) == f" {RUN}  ▶ running  nightly-quality  {COUNTS}  elapsed 18.1s  ETA 11.2s"
    assert line(95) == f" 1015c04a  ▶ running  nightly-quality  {COUNTS}  elapsed 18.1s  ETA 11.2s"
    assert line(80) == f" 1015c04a  ▶ running  {COUNTS}  elapsed 18.1s  ETA 11.2s"


def test_then_the_parts_close_up_and_a_running_run_keeps_its_eta_and_cost_over_its_elapsed_time() -> None:
    assert line(80, cost="$0.42") == f" 1015c04a ▶ running {COUNTS} ETA 11.2s cost $0.42"
    # with no ETA (a run that ended, or whose engine is lost) the elapsed time is the time to show
    lost = "☠ engine lost 1m42s ago · R resume"
    assert line(88, cost=None, left=None, state=lost) == f" 1015c04a {lost} {COUNTS} elapsed 18.1s"


def test_state_and_counts_stay_and_the_rest_is_cut_with_an_ellipsis() -> None:
    assert line(60) == f" 1015c04a ▶ running {COUNTS} ETA 11.2s"
    narrow = line(40)
    assert narrow.startswith(" 1015c04a ▶ running ██▓▒▒░░░  32% 19/") and narrow.endswith("…")
