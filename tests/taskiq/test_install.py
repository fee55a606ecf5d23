"""``install``/``uninstall``/``is_installed``, the middleware's place, the package's imports."""

from __future__ import annotations

import subprocess
import sys

from taskiq import InMemoryBroker
from taskiq.middlewares import SimpleRetryMiddleware
from taskiq_aio_pika import AioPikaBroker

from ctxcarry import Carrier, get_default_carrier
from ctxcarry.adapters.taskiq import (
    AMQP_LABEL_LIMIT,
    CtxcarryMiddleware,
    install,
    is_installed,
    uninstall,
)


def test_install_puts_one_middleware_first_and_is_idempotent() -> None:
    broker = InMemoryBroker()
    broker.add_middlewares(SimpleRetryMiddleware())
    first = install(broker)
    assert broker.middlewares[0] is first
    assert first.broker is broker
    assert install(broker) is first
    assert sum(isinstance(m, CtxcarryMiddleware) for m in broker.middlewares) == 1
    assert is_installed(broker)


def test_install_carrier_meaning_follows_installation() -> None:
    broker = InMemoryBroker()
    middleware = install(broker)
    assert middleware.carrier is get_default_carrier()
    chosen = Carrier(max_keys=5)
    install(broker, chosen)
    assert middleware.carrier is chosen
    install(broker)  # without a Carrier: keeps the chosen one
    assert middleware.carrier is chosen


def test_uninstall_removes_it_and_a_kept_middleware_does_nothing() -> None:
    broker = InMemoryBroker()
    middleware = install(broker)
    uninstall(broker)
    assert not is_installed(broker)
    assert middleware not in broker.middlewares
    assert not middleware.installation.active
    uninstall(broker)  # a no-op
    assert install(broker) is not middleware  # a fresh installation forgets the old one


def test_the_label_budget_is_capped_only_on_amqp_brokers() -> None:
    big = Carrier(max_bytes=1024 * 1024)
    memory = install(InMemoryBroker(), big)
    assert memory.carrier is big
    amqp = install(AioPikaBroker("amqp://guest:guest@127.0.0.1:5672/"), big)
    assert amqp.carrier.max_bytes == AMQP_LABEL_LIMIT
    small = Carrier(max_bytes=4096)
    install(amqp.broker, small)
    assert amqp.carrier is small


def test_importing_ctxcarry_does_not_import_taskiq() -> None:
    code = (
        "import sys, ctxcarry, ctxcarry.kit; "
        "assert 'taskiq' not in sys.modules, sorted(m for m in sys.modules if 'taskiq' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
