"""The request id a client sends is kept only when it is safe to repeat in logs and headers."""

from __future__ import annotations

import pytest

from deskgraph.server.request_id import MAX_LENGTH, accept_or_make, usable


@pytest.mark.parametrize(
    "value",
    ["abc-123", "0f9c2d1e6b7a4c3d8e9f0a1b2c3d4e5f", "x" * MAX_LENGTH, "trace:1/2;3"],
)
def test_a_usable_id_is_kept(value: str) -> None:
    assert usable(value)
    assert accept_or_make(value) == value


@pytest.mark.parametrize(
    "value",
    [None, "", "x" * (MAX_LENGTH + 1), "has space", "line\nbreak", "nul\x00", "naïve", "٣٤"],
)
def test_an_unusable_id_is_replaced_by_a_new_one(value: str | None) -> None:
    assert not usable(value)
    made = accept_or_make(value)
    assert made != value
    assert len(made) == 32
    assert int(made, 16) >= 0
    assert accept_or_make(value) != made  # a new one each time
