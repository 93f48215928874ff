"""Writes whose answer is lost after Microsoft 365 carried them out: nothing doubled."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests
from requests.adapters import BaseAdapter

from tests.conftest import wrap_session
from tests.records_helpers import items
from tests.test_run_e2e import make_world


class LoseAnswers(BaseAdapter):
    """Lets the first `n` item creates through to SharePoint, then drops their answers."""

    def __init__(self, inner: BaseAdapter, n: int) -> None:
        super().__init__()
        self.inner = inner
        self.left = n

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.inner.send(request, **kwargs)
        url = (request.url or "").split("?", 1)[0]
        if self.left and request.method == "POST" and url.endswith("/items"):
            self.left -= 1
            raise requests.ConnectionError("connection reset after the request was sent")
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_lost_answer_to_an_item_create_makes_no_second_item() -> None:
    world = make_world()
    wrap_session(world.client.session, lambda inner: LoseAnswers(inner, 6))
    summary = world.run()
    per_key = Counter(str(i.fields["SessionKey"]) for i in items(world))
    assert len(per_key) == 20 and set(per_key.values()) == {1}, per_key
    assert not [o for o in summary.not_done() if o.action.kind in ("create-item", "tag-event")]
    assert world.run().writes == 0
