"""A fake Discord (REST + gateway) for testing the real discord.py client end to end.

Start here: :class:`FakeDiscord` (the server and its world), :func:`running_client`
(run a client against it), :class:`InteractionRecord` (what the bot answered), and
the ``fake_discord`` fixture in :mod:`tests.fakediscord.fixtures`.  For benchmarks,
:class:`FakeDiscordProcess` runs the fake in its own process
(``python -m tests.fakediscord``, see :mod:`tests.fakediscord.__main__`).
"""

from tests.fakediscord.client import FakeEndpoints, discord_endpoints, running_client
from tests.fakediscord.interactions import InteractionRecord, InteractionTimeoutError
from tests.fakediscord.openapi import OpenAPIValidator, load_validator
from tests.fakediscord.process import FakeDiscordProcess
from tests.fakediscord.rules import check_command, check_commands, check_message
from tests.fakediscord.server import FakeDiscord, Fault, RecordedRequest

__all__ = [
    "FakeDiscord",
    "FakeDiscordProcess",
    "FakeEndpoints",
    "Fault",
    "InteractionRecord",
    "InteractionTimeoutError",
    "OpenAPIValidator",
    "RecordedRequest",
    "check_command",
    "check_commands",
    "check_message",
    "discord_endpoints",
    "load_validator",
    "running_client",
]
