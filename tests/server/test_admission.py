"""Admission counts calls and unsent response bytes; both are released when a call ends."""

from __future__ import annotations

from contextstore.server.admission import Admission, Call


def test_calls_past_the_limit_are_refused_until_one_ends() -> None:
    admission = Admission(max_calls=2, max_bytes=100)
    assert admission.admit() and admission.admit()
    assert not admission.admit()
    call = Call(admission)
    call.end()
    call.end()  # grpcio runs a callback once; a second end must not free two slots
    assert admission.calls == 1
    assert admission.admit()
    assert not admission.admit()


def test_unsent_bytes_are_bounded_and_released_when_the_call_ends() -> None:
    admission = Admission(max_calls=10, max_bytes=100)
    first, second, third = Call(admission), Call(admission), Call(admission)
    assert admission.reserve(first, 60)
    assert admission.reserve(second, 40)  # exactly the limit fits
    assert not admission.reserve(third, 1)
    first.end()
    assert admission.unsent == 40
    assert admission.reserve(third, 60)


def test_one_response_always_fits_when_none_is_pending() -> None:
    admission = Admission(max_calls=10, max_bytes=100)
    big, other = Call(admission), Call(admission)
    assert admission.reserve(big, 500)
    assert not admission.reserve(other, 1)
    big.end()
    assert admission.unsent == 0


def test_a_call_that_ended_before_its_response_was_counted_leaves_nothing_counted() -> None:
    admission = Admission(max_calls=10, max_bytes=100)
    admission.admit()
    call = Call(admission)
    call.end()  # cancelled while its handler ran
    assert admission.reserve(call, 50)
    assert (admission.calls, admission.unsent) == (0, 0)
