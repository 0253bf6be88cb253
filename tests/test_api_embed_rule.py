"""Content written through the API must fit the bot's embeds, as `kb check` demands of seeds.

The API applies the bot's own embed rule (knowledge.render) itself: no check is passed in from
bot/, so an API started without the bot refuses the same writes."""

from __future__ import annotations

from knowledge.runtime import Knowledge
from tests.test_api import AUTH, api_settings, client_for, new_topic


async def test_a_topic_the_bot_would_cut_is_refused(knowledge: Knowledge) -> None:
    long_body = "Stretch the muscle gently and hold it still. " * 30  # about 1,350 characters
    topic = new_topic(
        sections=[
            {"heading": "What it is", "body": "Tired muscles at the front of the lower leg."},
            {"heading": "What to do now", "body": long_body},
        ]
    )
    async with client_for(knowledge, api_settings()) as client:
        refused = await client.post("/v1/topics", json=topic, headers=AUTH)
        # A section longer than one embed field is refused by the content model itself, the same
        # rule `kb check` and `kb build` apply to seeds.
        assert refused.status_code == 422, refused.text
        assert "1000" in refused.text
        fitting = await client.post("/v1/topics", json=new_topic(), headers=AUTH)
        assert fitting.status_code == 201, fitting.text
