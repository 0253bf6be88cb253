"""`/daily set | show | off | pause | resume | preview | test`, for members with Manage Server."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts.daily._message import daily_message, send_kwargs
from bot.exts.daily._poster import Poster
from bot.exts.daily._scheduler import Scheduler
from bot.respond import send_answer
from knowledge.daily import (
    DailyKind,
    DailyStore,
    InvalidTimeError,
    InvalidTimezoneError,
    Subscription,
    SubscriptionRequest,
    canonical_timezone,
    match_timezones,
    parse_local_time,
)
from knowledge.layout import EmbedSpec
from knowledge.render import Answer, ButtonSpec, notice

if TYPE_CHECKING:
    from bot.client import CrampBot

log = logging.getLogger("crampbot.daily")

# Read Message History lets the bot see whether a day's post already went out before it
# re-sends one after a crash; without it, that history comes back empty.
NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}
KIND_CHOICES = [
    app_commands.Choice(name="stretching", value=DailyKind.STRETCHING.value),
    app_commands.Choice(name="hydration", value=DailyKind.HYDRATION.value),
    app_commands.Choice(
        name="alternate (stretching one day, hydration the next)", value="alternate"
    ),
    app_commands.Choice(name="both (one of each)", value=DailyKind.BOTH.value),
]
CHANNEL_TYPES = [discord.ChannelType.text, discord.ChannelType.news]


def missing_permissions(channel: discord.abc.GuildChannel, me: discord.Member) -> list[str]:
    allowed = channel.permissions_for(me)
    return [label for name, label in NEEDED.items() if not getattr(allowed, name)]


def describe(sub: Subscription) -> str:
    status = f"paused: {sub.pause_reason}" if sub.paused else f"next post <t:{sub.next_due_unix}:F>"
    return f"{sub.local_time_text} {sub.timezone}, {sub.kind.value}; {status}"


class DailyCog(commands.Cog):
    daily = app_commands.Group(
        name="daily",
        description="Daily stretching and hydration tips in a channel",
        guild_only=True,
        # A channel's daily tips belong to a server: never on a member's own install.
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=False, private_channel=False
        ),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CrampBot) -> None:
        self.bot = bot
        settings = bot.settings
        self.store = DailyStore(
            bot.knowledge.db,
            bot.knowledge.store,
            catch_up_window=timedelta(hours=settings.daily_catch_up_hours),
            lease=timedelta(seconds=settings.daily_lease_seconds),
        )
        self.poster = Poster(bot, self.store, settings.daily_concurrency)
        self.poster.on_paused = self.poke
        shards = settings.shards()
        self.schedulers = [
            Scheduler(
                bot, self.store, self.poster, (sid, settings.shard_count or 1) if shards else None
            )
            for sid in (shards or [0])
        ]

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Only a connected bot posts; `crampbot sync` loads this cog but never gets here.
        for scheduler in self.schedulers:
            scheduler.start()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: forget its subscriptions (and with them their delivery
        records), as `/about` promises; a server that adds the bot again starts afresh."""
        removed = await self.store.delete_guild(guild.id)
        if removed:
            log.info("removed from server %s: deleted %d daily subscriptions", guild.id, removed)

    async def cog_unload(self) -> None:
        for scheduler in self.schedulers:
            await scheduler.stop()

    def poke(self) -> None:
        for scheduler in self.schedulers:
            scheduler.poke()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Server settings can hide the commands; this check holds even if they are shown."""
        member = interaction.user
        if not isinstance(member, discord.Member) or not member.guild_permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @daily.command(name="set")
    @app_commands.describe(
        channel="Where to post",
        time="Local time, 24-hour HH:MM (for example 09:00)",
        timezone="Your time zone, for example Europe/Berlin",
        kind="What to post",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    async def set_(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel,
        time: app_commands.Range[str, 1, 10],
        timezone: app_commands.Range[str, 1, 64],
        kind: app_commands.Choice[str],
    ) -> None:
        """Post a daily tip in a channel at a local time."""

        async def build() -> Answer:
            try:
                local_time = parse_local_time(time)
            except InvalidTimeError:
                return notice(f"I couldn't read the time {time!r}. Use 24-hour HH:MM, like 09:00.")
            try:
                zone = canonical_timezone(timezone)
            except InvalidTimezoneError:
                hints = ", ".join(match_timezones(timezone, limit=3)) or "Europe/London"
                return notice(f"I don't know the time zone {timezone!r}. Try one like {hints}.")
            guild = interaction.guild
            target = guild.get_channel(channel.id) if guild else None
            if guild is None or target is None or guild.me is None:
                return notice("I can't see that channel. Check that I can view it, then try again.")
            if target.type not in CHANNEL_TYPES:
                return notice("Pick a text channel for the daily tips.")
            missing = missing_permissions(target, guild.me)
            if missing:
                return notice(
                    f"I can't post in {target.mention} yet: I'm missing "
                    f"{', '.join(missing)} there. Give me those and try again."
                )
            subscription, created = await self.store.subscribe(
                SubscriptionRequest(
                    guild_id=guild.id,
                    channel_id=target.id,
                    created_by=interaction.user.id,
                    local_time=local_time,
                    timezone=zone,
                    kind=DailyKind(kind.value),
                )
            )
            self.poke()
            verb = "Done" if created else "Updated"
            return notice(
                f"{verb}: a daily {kind.value} tip in {target.mention} at "
                f"{subscription.local_time_text} ({zone}). The next one comes "
                f"<t:{subscription.next_due_unix}:F> (<t:{subscription.next_due_unix}:R>).",
                title="Daily tips",
            )

        await send_answer(interaction, build)

    @set_.autocomplete("timezone")
    async def timezone_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in match_timezones(current, limit=25)]

    @daily.command(name="show")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """Show this server's daily tips."""

        async def build() -> Answer:
            subs = await self.store.for_guild(interaction.guild_id or 0)
            if not subs:
                return notice("No daily tips here yet. Start them with `/daily set`.")
            spec = EmbedSpec(title="Daily tips in this server", colour=0x2F855A)
            for sub in subs:
                spec.add(
                    f"#{self._channel_name(sub.channel_id)}",
                    f"<#{sub.channel_id}>: {describe(sub)}",
                )
            return Answer.fitted([spec], ephemeral=True)

        await send_answer(interaction, build)

    def _channel_name(self, channel_id: int) -> str:
        channel = self.bot.get_channel(channel_id)
        return getattr(channel, "name", None) or str(channel_id)

    @daily.command(name="off")
    @app_commands.describe(channel="The channel to stop posting in")
    async def off(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel
    ) -> None:
        """Stop the daily tips in a channel."""

        async def build() -> Answer:
            removed = await self.store.unsubscribe(channel.id)
            if not removed:
                return notice(f"There are no daily tips in <#{channel.id}>.")
            return notice(f"Stopped the daily tips in <#{channel.id}>.", title="Daily tips")

        await send_answer(interaction, build)

    @daily.command(name="pause")
    @app_commands.describe(channel="Only this channel (all of this server's if left empty)")
    async def pause(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Pause the daily tips."""
        await send_answer(
            interaction, lambda: self._pause_or_resume(interaction, channel, pause=True)
        )

    @daily.command(name="resume")
    @app_commands.describe(channel="Only this channel (all of this server's if left empty)")
    async def resume(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Resume paused daily tips from the next scheduled time."""
        await send_answer(
            interaction, lambda: self._pause_or_resume(interaction, channel, pause=False)
        )

    async def _pause_or_resume(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None,
        *,
        pause: bool,
    ) -> Answer:
        guild_id = interaction.guild_id or 0
        reason = f"paused by {interaction.user.display_name}"
        if channel is None:
            if pause:
                count = len(await self.store.pause_guild(guild_id, reason))
            else:
                count = len(await self.store.resume_guild(guild_id))
        else:
            sub = await self.store.by_channel(channel.id)
            if sub is None or sub.guild_id != guild_id:
                return notice(f"There are no daily tips in <#{channel.id}>.")
            changed = await (
                self.store.pause(sub.id, reason) if pause else self.store.resume(sub.id)
            )
            count = 1 if changed else 0
        if not pause:
            self.poke()
        action = "Paused" if pause else "Resumed"
        return notice(f"{action} {count} daily tip subscription(s).", title="Daily tips")

    async def _subscription_for(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None
    ) -> Subscription | None:
        channel_id = channel.id if channel else interaction.channel_id
        sub = await self.store.by_channel(channel_id) if channel_id else None
        if sub is None and channel is None:
            subs = await self.store.for_guild(interaction.guild_id or 0)
            sub = subs[0] if subs else None
        return sub if sub is not None and sub.guild_id == interaction.guild_id else None

    async def _next_post(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None
    ) -> tuple[Subscription, list[EmbedSpec], list[ButtonSpec]] | Answer:
        """The subscription and its next post, or a notice saying why there is none."""
        sub = await self._subscription_for(interaction, channel)
        if sub is None:
            return notice("No daily tips found for that channel. Start them with `/daily set`.")
        plan = await self.store.preview(sub.id)
        found = [await self.bot.knowledge.store.tip(t) for t in (plan.tip_ids if plan else ())]
        tips = [tip for tip in found if tip is not None]
        if not tips:
            return notice("There are no tips of that kind yet.")
        return (sub, *daily_message(tips, sub.next_due_local.date()))

    @daily.command(name="preview")
    @app_commands.describe(channel="Which subscription (this channel's if left empty)")
    async def preview(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Show the next daily tip, only to you."""

        async def build() -> Answer:
            post = await self._next_post(interaction, channel)
            if isinstance(post, Answer):
                return post
            _, embeds, buttons = post
            return Answer.fitted(embeds, buttons, ephemeral=True)

        await send_answer(interaction, build)

    @daily.command(name="test")
    @app_commands.describe(channel="Which subscription's channel (this channel's if left empty)")
    async def test(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Post the next daily tip to its channel now, to check that it works."""

        async def build() -> Answer:
            post = await self._next_post(interaction, channel)
            if isinstance(post, Answer):
                return post
            sub, embeds, buttons = post
            kwargs = send_kwargs(embeds, buttons)
            try:
                await self.bot.get_partial_messageable(sub.channel_id).send(**kwargs)
            except discord.Forbidden:
                return notice(
                    f"I couldn't post in <#{sub.channel_id}>: I need View Channel, Send Messages "
                    "and Embed Links there."
                )
            except discord.NotFound:
                return notice(
                    f"<#{sub.channel_id}> no longer exists. Use `/daily off` to remove it."
                )
            return notice(f"Posted a test tip in <#{sub.channel_id}>.", title="Daily tips")

        await send_answer(interaction, build)
