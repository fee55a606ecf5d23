"""Internals that once looked like API still work, with a DeprecationWarning."""

from __future__ import annotations

import pytest

from ctxcarry import _queuevar as queuevar
from tests.core.vars import org_id, tenant_id


def test_old_internal_names_warn_and_still_work() -> None:
    with pytest.warns(DeprecationWarning, match="QueueVar.plain"):
        assert tenant_id.plain is True
    with pytest.warns(DeprecationWarning, match="make_slot"):
        assert tenant_id.make_slot("acme") == ("acme", "acme", 6)
    with pytest.warns(DeprecationWarning, match="decode_slot"):
        assert org_id.decode_slot(5, 1) == (5, 5, 1)
    with pytest.warns(DeprecationWarning, match="registry_by_name"):
        assert queuevar.registry_by_name["core_tenant_id"] is tenant_id  # type: ignore[attr-defined]


def test_unknown_module_attributes_still_raise() -> None:
    with pytest.raises(AttributeError):
        queuevar.no_such_name  # type: ignore[attr-defined]  # noqa: B018
