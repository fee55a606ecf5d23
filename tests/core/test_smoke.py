from ctxcarry import inject


def test_inject_with_nothing_bound_writes_nothing() -> None:
    assert inject() == {}
