"""The `crampbot` command: the composition root that opens the store and runs each job.

Every command turns expected failures (bad content, an unreadable database, a missing token) into
one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import textwrap
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.failures import PreviewError
from bot.logs import configure as configure_logging
from bot.settings import BotSettings
from knowledge.checks import SHIPPED_POLICY
from knowledge.errors import DatabaseError, ExpectedError

if TYPE_CHECKING:
    from knowledge.api.settings import ApiSettings
from knowledge.runtime import ContentError, Knowledge, check_seeds

log = logging.getLogger("crampbot")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

LEVEL_LABELS = {"emergency": "EMERGENCY", "urgent": "URGENT", "gp": "SEE A DOCTOR"}


def _settings(args: argparse.Namespace) -> BotSettings:
    overrides: dict[str, object] = {}
    if getattr(args, "db", None):
        overrides["CRAMPBOT_DB"] = args.db
    if getattr(args, "seeds", None):
        overrides["CRAMPBOT_SEEDS"] = args.seeds
    return BotSettings(**overrides)  # type: ignore[arg-type]


def _print_problems(problems: Sequence[object]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(problems)} problem(s) found.", file=sys.stderr)


async def _with_knowledge(settings: BotSettings, job: Callable[[Knowledge], Awaitable[int]]) -> int:
    knowledge = await Knowledge.open(settings.db)
    try:
        return await job(knowledge)
    finally:
        await knowledge.close()


def content_problems(args: argparse.Namespace, settings: BotSettings) -> list[object]:
    """What `kb check` refuses (knowledge.runtime.check_seeds, render step included).

    `kb build` calls the same function, so the two can never disagree.
    """
    return list(check_seeds(settings.seeds, None if args.no_coverage else SHIPPED_POLICY))


def cmd_kb_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    problems = content_problems(args, settings)
    if problems:
        _print_problems(problems)
        return EXIT_FAILED
    print(f"{settings.seeds}: all content is valid, and every answer fits Discord's limits.")
    return EXIT_OK


def cmd_kb_build(args: argparse.Namespace) -> int:
    """Load the seeds into the store, refusing exactly what `kb check` refuses.

    The checks (coverage and the render step included) run first, on one load of the seeds;
    `Knowledge.build` then loads them again into the store.
    """
    settings = _settings(args)
    problems = content_problems(args, settings)
    if problems:
        _print_problems(problems)
        print("Fix the content, then run `crampbot kb build` again.", file=sys.stderr)
        return EXIT_FAILED

    async def job(knowledge: Knowledge) -> int:
        report = await knowledge.build(settings.seeds)
        state = "updated" if report.changed else "unchanged"
        print(
            f"{settings.db}: {state}; {report.topics} topics, {report.stretches} stretches, "
            f"{report.tips} tips, {report.red_flags} red-flag rules, {report.sources} sources; "
            f"{report.kept_from_api} items made through the API kept."
        )
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def job(knowledge: Knowledge) -> int:
        await knowledge.ensure_built(settings.seeds)
        answer = await knowledge.search.ask(args.question, limit=args.limit)
        if args.json:
            print(answer.model_dump_json())
            return EXIT_OK
        for flag in answer.red_flags:
            print(f"!! {LEVEL_LABELS[flag.level.value]}: {flag.message}\n")
        if not answer.results:
            print("I can only help with cramps, stretching, massage and hydration.")
            return EXIT_OK
        for number, result in enumerate(answer.results, start=1):
            print(f"{number}. {result.title}  [{result.kind}, {result.slug}]")
            if result.kind == "stretch":
                stretch = await knowledge.store.stretch(result.slug)
                summary = ", ".join(stretch.target_muscles) if stretch else ""
            else:
                topic = await knowledge.store.topic(result.slug)
                summary = topic.summary if topic else ""
            print(textwrap.indent(textwrap.fill(summary, 76), "   "))
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def _api_settings(args: argparse.Namespace) -> ApiSettings:
    from knowledge.api.settings import ApiSettings  # noqa: PLC0415 - loads FastAPI's stack

    overrides: dict[str, object] = {}
    if getattr(args, "host", None):
        overrides["CRAMPBOT_API_HOST"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["CRAMPBOT_API_PORT"] = args.port
    return ApiSettings(**overrides)  # type: ignore[arg-type]


def _serve(args: argparse.Namespace, *, with_bot: bool) -> int:
    settings = _settings(args)
    api_settings = _api_settings(args)
    from bot.main import serve  # noqa: PLC0415 - `kb` commands skip discord.py

    async def job(knowledge: Knowledge) -> int:
        report = await knowledge.ensure_built(settings.seeds)
        if report is None:
            log.info("knowledge store ready at %s", settings.db)
        await serve(
            knowledge, settings, api_settings, with_bot=with_bot, sync=getattr(args, "sync", False)
        )
        log.info("stopped")
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def cmd_run(args: argparse.Namespace) -> int:
    return _serve(args, with_bot=True)


def cmd_api(args: argparse.Namespace) -> int:
    return _serve(args, with_bot=False)


def cmd_kb_export(args: argparse.Namespace) -> int:
    settings = _settings(args)

    from knowledge.export import export_seeds, recover_interrupted_export  # noqa: PLC0415

    directory = Path(args.directory)
    # Before anything reads it: the folder may be the seeds folder, left missing by a killed export.
    recover_interrupted_export(directory)

    async def job(knowledge: Knowledge) -> int:
        await knowledge.ensure_built(settings.seeds)
        report = await export_seeds(knowledge.store, directory, replace=args.replace)
        print(
            f"exported {report.topics} topics, {report.stretches} stretches, {report.tips} tips "
            f"({report.from_api} made through the API) to {report.directory}"
        )
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bot.main import sync_commands  # noqa: PLC0415

    async def job(knowledge: Knowledge) -> int:
        names = await sync_commands(knowledge, settings, args.guild)
        where = f"guild {args.guild}" if args.guild else "all servers (global)"
        print(f"registered {len(names)} commands for {where}: /{', /'.join(sorted(names))}")
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def cmd_invite(args: argparse.Namespace) -> int:
    from bot.main import invite_urls  # noqa: PLC0415

    links = invite_urls(_settings(args))
    print(f"Add crampbot to a server (daily tips and commands):\n  {links['server']}")
    print(f"Add crampbot to your own account (commands in DMs and any server):\n  {links['user']}")
    return EXIT_OK


def cmd_preview(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bot.preview import preview  # noqa: PLC0415

    async def job(knowledge: Knowledge) -> int:
        await knowledge.ensure_built(settings.seeds)
        print(await preview(knowledge, args.command_line))
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def backup_target(path: str, today: str) -> Path:
    """Where `db backup PATH` writes: PATH itself, or a dated file inside PATH if it is a folder.

    "backups/" (a trailing slash) or an existing folder means "put it in there", never a file
    named after the folder.
    """
    target = Path(path)
    if path.endswith(("/", "\\")) or target.is_dir():
        return target / f"crampbot-{today}.db"
    return target


def cmd_db_backup(args: argparse.Namespace) -> int:
    settings = _settings(args)
    source = Path(settings.db)
    if not source.is_file():
        # Opening a missing path would create an empty database and "back it up".
        print(
            f"crampbot: there is no database at {source}; check --db or CRAMPBOT_DB",
            file=sys.stderr,
        )
        return EXIT_FAILED
    target = backup_target(args.path, datetime.now(UTC).date().isoformat())

    async def job(knowledge: Knowledge) -> int:
        pages = await knowledge.db.backup(target)
        print(f"backed up {settings.db} to {target} ({pages} pages)")
        return EXIT_OK

    return asyncio.run(_with_knowledge(settings, job))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crampbot",
        description="Sourced answers about muscle cramps, stretching, massage and hydration.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="SQLite file (default: $CRAMPBOT_DB or ./data/crampbot.db)")
    common.add_argument("--seeds", help="content folder (default: $CRAMPBOT_SEEDS or ./seeds)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="build the store if needed and start")
    run.add_argument("--sync", action="store_true", help="register slash commands globally first")
    run.add_argument(
        "--host", help="content API address (default: $CRAMPBOT_API_HOST or 127.0.0.1)"
    )
    run.add_argument(
        "--port", type=int, help="content API port (default: $CRAMPBOT_API_PORT or 8080)"
    )
    run.set_defaults(handler=cmd_run)

    api = commands.add_parser("api", parents=[common], help="serve the content API alone")
    api.add_argument(
        "--host", help="address to listen on (default: $CRAMPBOT_API_HOST or 127.0.0.1)"
    )
    api.add_argument("--port", type=int, help="port (default: $CRAMPBOT_API_PORT or 8080)")
    api.set_defaults(handler=cmd_api)

    sync = commands.add_parser("sync", parents=[common], help="register the slash commands")
    sync.add_argument("--guild", type=int, help="one server's id (instant; for development)")
    sync.set_defaults(handler=cmd_sync)

    invite = commands.add_parser(
        "invite", help="print the links that add the bot to a server or to your own account"
    )
    invite.set_defaults(handler=cmd_invite)

    preview = commands.add_parser(
        "preview",
        parents=[common],
        help='print what the bot would answer, e.g. "/cramp where:calf"',
    )
    preview.add_argument("command_line", metavar="COMMAND")
    preview.set_defaults(handler=cmd_preview)

    kb = commands.add_parser("kb", help="check or build the knowledge store")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    kb_check = kb_commands.add_parser("check", parents=[common], help="validate every seed file")
    kb_check.add_argument(
        "--no-coverage",
        action="store_true",
        help="skip the rules for shipped content (required topics, tip counts)",
    )
    kb_check.set_defaults(handler=cmd_kb_check)
    kb_build = kb_commands.add_parser("build", parents=[common], help="load the seeds into SQLite")
    kb_build.add_argument(
        "--no-coverage",
        action="store_true",
        help="skip the rules for shipped content, as `kb check --no-coverage` does",
    )
    kb_build.set_defaults(handler=cmd_kb_build)
    kb_export = kb_commands.add_parser(
        "export", parents=[common], help="write all content (seeds and API-made) as seed files"
    )
    kb_export.add_argument("directory", help="a new or empty folder")
    kb_export.add_argument("--replace", action="store_true", help="replace seed files there")
    kb_export.set_defaults(handler=cmd_kb_export)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    backup = db_commands.add_parser(
        "backup", parents=[common], help="copy the database safely, even while crampbot runs"
    )
    backup.add_argument("path", help="where to write the copy (replaced if it exists)")
    backup.set_defaults(handler=cmd_db_backup)

    ask = commands.add_parser("ask", parents=[common], help="answer a question from the store")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--limit", type=int, default=5, choices=range(1, 6), metavar="1-5")
    ask.set_defaults(handler=cmd_ask)
    return parser


# Failures with a message meant for the operator; anything else is a bug and keeps its traceback.
# Matched by name so that `kb` commands need not import the API or Discord modules.
def _bad_settings(exc: ValidationError) -> int:
    """One line per bad setting, naming it, instead of pydantic's traceback."""
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        # A check across settings names them in its message and has no location of its own.
        print(
            f"crampbot: setting {name}: {message}" if name else f"crampbot: {message}",
            file=sys.stderr,
        )
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        return _bad_settings(exc)
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ValidationError as exc:  # the API's own settings, read only by the commands using it
        return _bad_settings(exc)
    except ContentError as exc:
        _print_problems(exc.problems)
        print("Fix the content, then run `crampbot kb build` again.", file=sys.stderr)
        return EXIT_FAILED
    except ExpectedError as exc:
        print(f"crampbot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except PreviewError as exc:
        print(f"crampbot preview: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseError as exc:
        print(f"crampbot: database error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
