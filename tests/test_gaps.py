"""Knowledge gaps through the admin API: unanswered and thumbs-down questions, grouped by
meaning with the real local model, most frequent first; a dismissal lasts."""

from __future__ import annotations

from shared.db import bots
from tests.utils import rows


async def _exchange(runtime, cipher, world_tenant, question, *, source, feedback=None):
    async with runtime.db.connection() as conn:
        conversation = await rows.create_conversation(
            conn, tenant_id=world_tenant.tenant_id, bot_id=world_tenant.bot_id, visitor_id="v"
        )
        await rows.add_exchange(
            conn,
            conversation_id=conversation,
            bot_id=world_tenant.bot_id,
            question_enc=cipher.encrypt(question),
            answer_enc=cipher.encrypt("an answer"),
            source=source,
            feedback=feedback,
        )


async def test_gaps_are_grouped_by_meaning_and_a_dismissal_lasts(runtime, world, admin_client):
    a = world.tenants["a"]
    async with runtime.db.connection() as conn:
        cipher = await runtime.cipher(conn, a.tenant_id)
        await bots.bump_kb_version(conn, tenant_id=a.tenant_id, bot_id=a.bot_id)
    for question in (
        "Can I pay with PayPal?",
        "Can I pay with PayPal?",
        "Do you accept PayPal payments?",
        "Is PayPal accepted as a payment method?",
        "Do you have a shop in Vienna?",
    ):
        await _exchange(runtime, cipher, a, question, source="fallback")
    await _exchange(runtime, cipher, a, "How long does delivery take?", source="faq", feedback=-1)
    await _exchange(runtime, cipher, a, "What are your opening hours?", source="faq", feedback=1)

    headers = world.headers(a.session)
    path = f"/v1/admin/bots/{a.bot_id}/gaps"
    response = await admin_client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    gaps = response.json()["items"]
    assert gaps[0]["question"] == "can i pay with paypal"
    assert gaps[0]["count"] == 4  # the three paraphrases, one asked twice
    assert len(gaps[0]["phrasings"]) == 3
    assert gaps[0]["reasons"] == {"not_answered": 4}
    others = {g["question"]: g for g in gaps[1:]}
    # (the world's own conversation fell back too)
    assert set(others) == {
        "do you have a shop in vienna",
        "how long does delivery take",
        "my order a-4711 never arrived",
    }
    assert others["how long does delivery take"]["reasons"] == {"thumbs_down": 1}
    assert "opening hours" not in response.text  # a thumbs-up is no gap

    dismissed = await admin_client.post(
        path + "/dismiss", headers=headers, json={"phrasings": gaps[0]["phrasings"]}
    )
    assert dismissed.status_code == 200
    again = (await admin_client.get(path, headers=headers)).json()["items"]
    assert "can i pay with paypal" not in {g["question"] for g in again}
    assert len(again) == 3
    other = world.tenants["b"]
    assert (await admin_client.get(path, headers=world.headers(other.session))).status_code == 404
