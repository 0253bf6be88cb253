"""Discord rules that the OpenAPI document does not (or cannot) express.

The OpenAPI schemas check types and most length limits, but several rules Discord
enforces live only in its prose documentation: the command-name regex and the
lower-case requirement, "required options first", the 4000-character total per
command, that bots may send at most 2000 characters of content (the document says
4000, which is the Nitro user limit), and the 6000-character total per message's
embeds.  A bot that breaks them gets ``400 Invalid Form Body`` in production, so
the fake checks them too.

Sources: https://discord.com/developers/docs/interactions/application-commands
("Application Command Naming", option and choice structures, limits) and
https://discord.com/developers/docs/resources/message (embed limits).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

# Application command types.
CHAT_INPUT = 1
USER = 2
MESSAGE = 3
PRIMARY_ENTRY_POINT = 4

# Option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
CHANNEL = 7
NUMBER = 10
ATTACHMENT = 11
_OPTION_TYPES = range(1, 12)
_CHOICE_TYPES = frozenset({STRING, INTEGER, NUMBER})

NAME_MAX = 32
DESCRIPTION_MAX = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_VALUE_MAX = 100
COMMAND_TOTAL_CHARS_MAX = 4000
STRING_LENGTH_MAX = 6000
MAX_SAFE_INTEGER = 2**53
MAX_COMMANDS_PER_TYPE = {CHAT_INPUT: 100, USER: 15, MESSAGE: 15, PRIMARY_ENTRY_POINT: 1}

BOT_CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
CUSTOM_ID_MAX = 100

# Unicode blocks standing in for \p{sc=Deva} and \p{sc=Thai}: Python's ``re`` has no
# script properties and the ``regex`` package is not a dependency.  The blocks hold
# the combining vowel signs (categories Mn/Mc) that \p{L} alone would reject.
_SCRIPT_BLOCKS = (
    (0x0900, 0x097F),  # Devanagari
    (0xA8E0, 0xA8FF),  # Devanagari Extended
    (0x11B00, 0x11B5F),  # Devanagari Extended-A
    (0x0E00, 0x0E7F),  # Thai
)


def _name_char_ok(char: str) -> bool:
    """One character of ``^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``."""
    if char in "-_" or unicodedata.category(char)[0] in "LN":
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _SCRIPT_BLOCKS)


def check_name(name: Any, where: str, *, chat_input: bool = True) -> list[str]:
    """Check a command or option name.

    CHAT_INPUT names (and every option name) must match the naming regex and use the
    lower-case form of any letter that has one; USER and MESSAGE command names may be
    mixed case and contain spaces, but are still 1-32 characters.
    """
    if not isinstance(name, str):
        return [f"{where}: name must be a string, got {type(name).__name__}"]
    if not 1 <= len(name) <= NAME_MAX:
        return [f"{where}: name {name!r} must be 1-{NAME_MAX} characters, has {len(name)}"]
    if not chat_input:
        return []
    problems = []
    bad = sorted({c for c in name if not _name_char_ok(c)})
    if bad:
        problems.append(f"{where}: name {name!r} has characters the naming regex forbids: {bad}")
    if name != name.lower():
        problems.append(f"{where}: name {name!r} must be lower-case")
    return problems


def _check_text(value: Any, where: str, field: str, low: int, high: int) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: {field} must be a string"]
    if not low <= len(value) <= high:
        return [f"{where}: {field} must be {low}-{high} characters, has {len(value)}"]
    return []


def _check_localizations(
    data: Mapping[str, Any], where: str, *, chat_input: bool = True
) -> list[str]:
    problems: list[str] = []
    names = data.get("name_localizations")
    texts = data.get("description_localizations")
    for locale, name in names.items() if isinstance(names, Mapping) else ():
        problems += check_name(name, f"{where} name[{locale}]", chat_input=chat_input)
    for locale, text in texts.items() if isinstance(texts, Mapping) else ():
        problems += _check_text(text, f"{where} description[{locale}]", "description", 1, 100)
    return problems


def _check_choices(option: Mapping[str, Any], where: str) -> list[str]:
    choices = _mappings(option.get("choices"))
    kind = option.get("type")
    problems: list[str] = []
    if choices and kind not in _CHOICE_TYPES:
        problems.append(f"{where}: only string, integer and number options may have choices")
    if len(choices) > MAX_CHOICES:
        problems.append(f"{where}: at most {MAX_CHOICES} choices, has {len(choices)}")
    if choices and option.get("autocomplete"):
        problems.append(f"{where}: autocomplete cannot be combined with choices")
    for index, choice in enumerate(choices):
        at = f"{where} choice[{index}]"
        problems += _check_text(choice.get("name"), at, "name", 1, CHOICE_NAME_MAX)
        localized = choice.get("name_localizations")
        for locale, text in localized.items() if isinstance(localized, Mapping) else ():
            problems += _check_text(text, f"{at} name[{locale}]", "name", 1, CHOICE_NAME_MAX)
        value = choice.get("value")
        if kind == STRING:
            problems += _check_text(value, at, "value", 0, CHOICE_STRING_VALUE_MAX)
        elif kind == INTEGER and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{at}: value {value!r} must be an integer")
        elif kind == NUMBER and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(f"{at}: value {value!r} must be a number")
        if isinstance(value, int | float) and not -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
            problems.append(f"{at}: value {value!r} is outside Discord's safe integer range")
    return problems


def _number(value: Any) -> float | None:
    """A numeric field's value, or None if absent or mistyped (the schema reports that)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _check_ranges(option: Mapping[str, Any], where: str) -> list[str]:
    kind = option.get("type")
    problems: list[str] = []
    min_len, max_len = _number(option.get("min_length")), _number(option.get("max_length"))
    if (min_len is not None or max_len is not None) and kind != STRING:
        problems.append(f"{where}: min_length/max_length only apply to string options")
    if min_len is not None and not 0 <= min_len <= STRING_LENGTH_MAX:
        problems.append(f"{where}: min_length must be 0-{STRING_LENGTH_MAX}")
    if max_len is not None and not 1 <= max_len <= STRING_LENGTH_MAX:
        problems.append(f"{where}: max_length must be 1-{STRING_LENGTH_MAX}")
    if min_len is not None and max_len is not None and min_len > max_len:
        problems.append(f"{where}: min_length is greater than max_length")
    min_val, max_val = _number(option.get("min_value")), _number(option.get("max_value"))
    if (min_val is not None or max_val is not None) and kind not in (INTEGER, NUMBER):
        problems.append(f"{where}: min_value/max_value only apply to integer and number options")
    if min_val is not None and max_val is not None and min_val > max_val:
        problems.append(f"{where}: min_value is greater than max_value")
    if option.get("channel_types") and kind != CHANNEL:
        problems.append(f"{where}: channel_types only applies to channel options")
    if option.get("autocomplete") and kind not in _CHOICE_TYPES:
        problems.append(f"{where}: only string, integer and number options can autocomplete")
    return problems


def _check_options(raw: Any, where: str, depth: int) -> list[str]:
    """Check one level of options; ``depth`` 0 is the command, 1 a group or subcommand."""
    options = _mappings(raw)
    problems: list[str] = []
    if len(options) > MAX_OPTIONS:
        problems.append(f"{where}: at most {MAX_OPTIONS} options, has {len(options)}")
    names = [o.get("name") for o in options]
    duplicates = sorted({n for n in names if names.count(n) > 1 and isinstance(n, str)})
    if duplicates:
        problems.append(f"{where}: duplicate option names {duplicates}")
    kinds = [o.get("type") for o in options]
    nested = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(nested) and not all(nested):
        problems.append(f"{where}: subcommands/groups cannot be mixed with other options")
    seen_optional = False
    for index, option in enumerate(options):
        kind = option.get("type")
        at = f"{where} option[{index}] {option.get('name')!r}"
        problems += check_name(option.get("name"), at)
        problems += _check_text(option.get("description"), at, "description", 1, DESCRIPTION_MAX)
        problems += _check_localizations(option, at)
        if kind not in _OPTION_TYPES:
            problems.append(f"{at}: unknown option type {kind!r}")
            continue
        if kind == SUB_COMMAND_GROUP and depth > 0:
            problems.append(f"{at}: subcommand groups can only be top-level options")
        if kind == SUB_COMMAND and depth > 1:
            problems.append(f"{at}: subcommands cannot be nested deeper than one group")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            children = _mappings(option.get("options"))
            if kind == SUB_COMMAND_GROUP and any(c.get("type") != SUB_COMMAND for c in children):
                problems.append(f"{at}: a subcommand group may only contain subcommands")
            if kind == SUB_COMMAND and any(
                c.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for c in children
            ):
                problems.append(f"{at}: a subcommand cannot contain subcommands or groups")
            problems += _check_options(children, at, depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                problems.append(f"{at}: required options must come before optional ones")
        else:
            seen_optional = True
        problems += _check_choices(option, at)
        problems += _check_ranges(option, at)
    return problems


def _total_chars(data: Mapping[str, Any]) -> int:
    """Characters Discord counts toward the 4000 limit: names, descriptions, choices."""
    total = _chars(data.get("name")) + _chars(data.get("description"))
    for option in _mappings(data.get("options")):
        total += _total_chars(option)
        for choice in _mappings(option.get("choices")):
            total += _chars(choice.get("name")) + len(str(choice.get("value", "")))
    return total


def check_command(command: Mapping[str, Any]) -> list[str]:
    """Every rule violation in one command definition, as readable strings (empty = OK)."""
    if not isinstance(command, Mapping):
        return [f"command must be an object, got {type(command).__name__}"]
    kind = command.get("type", CHAT_INPUT) or CHAT_INPUT
    name = command.get("name")
    where = f"command {name!r}"
    chat_like = kind in (CHAT_INPUT, PRIMARY_ENTRY_POINT)
    problems = check_name(name, where, chat_input=chat_like)
    problems += _check_localizations(command, where, chat_input=chat_like)
    description = command.get("description")
    if kind == CHAT_INPUT:
        problems += _check_text(description, where, "description", 1, DESCRIPTION_MAX)
        problems += _check_options(command.get("options") or [], where, 0)
        total = _total_chars(command)
        if total > COMMAND_TOTAL_CHARS_MAX:
            problems.append(f"{where}: {total} characters in total, the limit is 4000")
    elif kind in (USER, MESSAGE):
        if description:
            problems.append(f"{where}: USER and MESSAGE commands must have an empty description")
        if command.get("options"):
            problems.append(f"{where}: only CHAT_INPUT commands can have options")
    elif kind != PRIMARY_ENTRY_POINT:
        problems.append(f"{where}: unknown command type {kind!r}")
    return problems


def check_commands(commands: Iterable[Mapping[str, Any]]) -> list[str]:
    """Check a bulk-overwrite payload: each command, unique names per type, count limits."""
    problems: list[str] = []
    seen: dict[tuple[int, str], int] = {}
    counts: dict[int, int] = {}
    for command in commands:
        problems += check_command(command)
        if not isinstance(command, Mapping):
            continue
        kind = command.get("type", CHAT_INPUT) or CHAT_INPUT
        key = (kind, str(command.get("name")))
        seen[key] = seen.get(key, 0) + 1
        counts[kind] = counts.get(kind, 0) + 1
    problems += [
        f"command {n!r}: defined {c} times for type {k}" for (k, n), c in seen.items() if c > 1
    ]
    for kind, count in counts.items():
        limit = MAX_COMMANDS_PER_TYPE.get(kind)
        if limit is not None and count > limit:
            problems.append(f"{count} commands of type {kind}; Discord allows {limit}")
    return problems


def _chars(value: Any) -> int:
    """Length of a text field; wrong types count 0 (the schema check reports those)."""
    return len(value) if isinstance(value, str) else 0


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    """The objects in a list field, ignoring anything malformed (reported by the schema)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _embed_chars(embed: Mapping[str, Any]) -> int:
    total = _chars(embed.get("title")) + _chars(embed.get("description"))
    for part, key in (("footer", "text"), ("author", "name")):
        holder = embed.get(part)
        total += _chars(holder.get(key)) if isinstance(holder, Mapping) else 0
    for field_ in _mappings(embed.get("fields")):
        total += _chars(field_.get("name")) + _chars(field_.get("value"))
    return total


def _custom_ids(components: Any) -> Iterable[str]:
    for component in _mappings(components):
        if isinstance(component.get("custom_id"), str):
            yield component["custom_id"]
        yield from _custom_ids(component.get("components"))
        yield from _custom_ids([component.get("accessory")])


def check_message(body: Mapping[str, Any] | None, where: str = "message") -> list[str]:
    """Limits on a message a bot sends (channel message, interaction reply, followup, edit)."""
    if not isinstance(body, Mapping):
        return []
    problems: list[str] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > BOT_CONTENT_MAX:
        problems.append(f"{where}: content has {len(content)} characters, bots may send 2000")
    embeds = _mappings(body.get("embeds"))
    if len(embeds) > EMBEDS_MAX:
        problems.append(f"{where}: {len(embeds)} embeds, the limit is {EMBEDS_MAX}")
    total = sum(_embed_chars(e) for e in embeds)
    if total > EMBED_TOTAL_MAX:
        problems.append(f"{where}: embeds hold {total} characters, the limit is {EMBED_TOTAL_MAX}")
    for custom_id in _custom_ids(body.get("components")):
        if not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
            problems.append(f"{where}: custom_id {custom_id[:20]!r}... must be 1-100 characters")
    return problems


def check_request(method: str, path: str, body: Any) -> list[str]:
    """Discord's prose rules for one request: command definitions and message bodies.

    Which rules apply follows from the method and the API path (relative to ``/api/v10``).
    """
    if body is None:
        return []
    if re.search(r"/commands(/\d+)?$", path) and method in ("PUT", "POST", "PATCH"):
        if method == "PUT" and isinstance(body, list):
            return check_commands(body)
        if isinstance(body, Mapping) and method == "POST":
            return check_command(body)
        return []
    if re.search(r"/callback$", path) and isinstance(body, Mapping):
        data = body.get("data")
        problems = check_message(data, "callback data")
        if body.get("type") == 8 and isinstance(data, Mapping):
            choices = data.get("choices") or []
            if len(choices) > MAX_CHOICES:
                problems.append(f"autocomplete: {len(choices)} choices, Discord shows 25")
        return problems
    if re.search(r"^/(channels/\d+/messages|webhooks/\d+/[^/]+)", path) and isinstance(
        body, Mapping
    ):
        return check_message(body)
    return []
