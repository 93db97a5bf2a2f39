"""README's "4. See a mistake": the body it sends gets exactly the details it shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import DatabaseInspector, Harness

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> tuple[dict[str, object], dict[str, object]]:
    """The request body (the curl's ``-d``) and the JSON answer of the README's 400 example."""
    section = README.read_text().split("**4. See a mistake.**", 1)[1].split("**5.", 1)[0]
    sent = re.search(r"-d '(\{.*?\})'", section, re.DOTALL)
    answered = re.search(r"```json\n(\{.*?\})\n```", section, re.DOTALL)
    assert sent, "the README's 400 example has no curl -d body where this test looks"
    assert answered, "the README's 400 example has no JSON answer where this test looks"
    return json.loads(sent.group(1)), json.loads(answered.group(1))


async def test_readme_400_example_is_what_the_server_answers(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    # The README listed a fourth detail ("transaction_currency: requires transaction_amount")
    # that the server never sends: an invalid currency has its own detail, and the rule about a
    # currency's amount applies to a valid currency only.
    body, shown = _example()
    partner_id, key = await harness.new_partner()
    response = await harness.client.post("/v2/customer_sessions", json=body, auth=(key, ""))
    assert response.status_code == shown["status"] == 400
    answer = response.json()
    assert {k: v for k, v in answer.items() if k != "timestamp"} == {
        k: v for k, v in shown.items() if k != "timestamp"
    }
    assert set(answer) == set(shown)
    assert inspector.count("customer_sessions", partner_id) == 0
