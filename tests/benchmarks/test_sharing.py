"""Figure W3 measures what it says, at a small scale, in fresh interpreters."""

from __future__ import annotations

from benchmarks import sharing


def test_w3_holds_the_same_files_once_and_charges_them_in_full() -> None:
    figure = sharing.shared_vs_distinct(sharing.SharingScale(sessions=10, files=200))

    assert figure.key == "W3" and figure.invalid is None
    # Ten sessions of the same 200 files of 4 KiB hold about one session's worth.
    assert figure.numerator.value < figure.denominator.value / 3
    assert "held_bytes" in figure.notes[1]
