"""`crampbot preview "/cramp where:calf"`: the bot's answer in the terminal, without Discord."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from bot import answers
from bot.failures import PreviewError
from knowledge.layout import to_text
from knowledge.models import TipKind
from knowledge.render import Answer
from knowledge.runtime import Knowledge

_OPTION = re.compile(r"(?:^|\s)([a-z_]+):")

Builder = Callable[[Knowledge, dict[str, str]], Awaitable[Answer]]


def parse_command(text: str) -> tuple[str, dict[str, str]]:
    """'/cramp where:calf' -> ('cramp', {'where': 'calf'}); option values may hold spaces."""
    text = text.strip()
    if not text.startswith("/"):
        raise PreviewError('write the command as in Discord, e.g. "/cramp where:calf"')
    name, _, rest = text[1:].partition(" ")
    options: dict[str, str] = {}
    matches = list(_OPTION.finditer(" " + rest))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else None
        options[match.group(1)] = (" " + rest)[match.end() : end].strip()
    return name.lower(), options


def _option(options: dict[str, str], name: str, command: str) -> str:
    if not options.get(name):
        raise PreviewError(f"/{command} needs {name}:<value>")
    return options[name]


BUILDERS: dict[str, Builder] = {
    "cramp": lambda k, o: answers.cramp_answer(k, _option(o, "where", "cramp")),
    "massage": lambda k, o: answers.massage_answer(k, _option(o, "type", "massage")),
    "stretch": lambda k, o: answers.stretch_answer(k, _option(o, "muscle", "stretch")),
    "hydrate": lambda k, o: answers.hydrate_from_store(k),
    "tip": lambda k, o: answers.tip_answer(k, TipKind(o["kind"]) if o.get("kind") else None),
    "ask": lambda k, o: answers.ask_answer(k, _option(o, "question", "ask")),
    "about": lambda k, o: answers.about_answer(k),
}


async def preview(knowledge: Knowledge, command: str) -> str:
    name, options = parse_command(command)
    builder = BUILDERS.get(name)
    if builder is None:
        raise PreviewError(f"unknown command /{name}; try one of: /{', /'.join(BUILDERS)}")
    if name == "tip" and options.get("kind") not in {None, *(k.value for k in TipKind)}:
        raise PreviewError("tip kind is one of: stretching, hydration, massage, general")
    answer = await builder(knowledge, options)
    parts = [to_text(spec) for spec in answer.embeds]
    buttons = ["[Sources]" if b.action == "sources" else "[Another tip]" for b in answer.buttons]
    if buttons:
        parts.append(" ".join(buttons))
    if answer.ephemeral:
        parts.append("(only the member who asked sees this)")
    return "\n\n".join(parts)
