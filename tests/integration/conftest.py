"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import Webhook


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A webhook receiver on loopback, recording every notification, closed after the test."""
    hook = Webhook()
    yield hook
    hook.close()
