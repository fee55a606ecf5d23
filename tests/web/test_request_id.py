"""Request ids from clients: accepted only when safe, canonical, never echoed raw when refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxcarry._request_id import (
    MAX_REQUEST_ID_LENGTH,
    REQUEST_ID_PATTERN,
    canonical_request_id,
    choose_request_id,
    new_request_id,
)


@pytest.mark.parametrize(
    "value",
    [
        "req-42",
        "a",
        "Root.1:abc_DEF-9",
        "7b3c1f2e9a0d4c5b",
        "x" * MAX_REQUEST_ID_LENGTH,
    ],
)
def test_ordinary_ids_are_kept_as_sent(value: str) -> None:
    assert canonical_request_id(value) == value
    assert canonical_request_id(value.encode()) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        " req",
        "req ",
        "req\n",  # `$` would accept a trailing newline: the pattern must use fullmatch
        "req\nfake=entry",
        "-leading-dash",
        "{0f3c2a9e-5d41-4b7a-9c3e-2b8d1e6f4a70}",
        "+0f3c2a9e5d414b7a9c3e2b8d1e6f4a70",
        "req;drop",
        "réq",
        "req\u2028x",
        "a,b",
        "x" * (MAX_REQUEST_ID_LENGTH + 1),
        "x" * 10_000,
        b"\xff\xfe",
        None,
        42,
    ],
)
def test_unsafe_ids_are_refused(value: object) -> None:
    assert canonical_request_id(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "0F3C2A9E-5D41-4B7A-9C3E-2B8D1E6F4A70",
        "0f3c2a9e5d414b7a9c3e2b8d1e6f4a70",
        "0F3C2A9E5D414B7A9C3E2B8D1E6F4A70",
        "0f3c2a9e-5d41-4b7a-9c3e-2b8d1e6f4a70",
    ],
)
def test_uuid_spellings_become_one_canonical_form(value: str) -> None:
    assert canonical_request_id(value) == "0f3c2a9e-5d41-4b7a-9c3e-2b8d1e6f4a70"


def test_refused_or_missing_id_is_replaced_by_a_fresh_one() -> None:
    first, trusted_first = choose_request_id("bad id")
    second, trusted_second = choose_request_id(None)
    assert not trusted_first
    assert not trusted_second
    assert first != second
    assert REQUEST_ID_PATTERN.fullmatch(first)
    assert choose_request_id("good-id") == ("good-id", True)


def test_generated_ids_are_128_random_bits_in_hex() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)


def test_custom_generator_is_checked_and_a_broken_one_does_not_fail() -> None:
    def broken() -> str:
        raise RuntimeError("generator down")

    assert choose_request_id(None, lambda: "svc-1")[0] == "svc-1"
    assert REQUEST_ID_PATTERN.fullmatch(choose_request_id(None, lambda: "bad\nid")[0])
    assert REQUEST_ID_PATTERN.fullmatch(choose_request_id(None, broken)[0])


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_whatever_a_client_sends_the_id_used_is_safe(value: str | bytes) -> None:
    request_id, trusted = choose_request_id(value)
    assert REQUEST_ID_PATTERN.fullmatch(request_id)
    assert len(request_id) <= MAX_REQUEST_ID_LENGTH
    if not trusted:
        raw = value.decode("latin-1") if isinstance(value, bytes) else value
        assert raw == "" or raw not in request_id or len(raw) < 4
