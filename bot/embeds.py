"""A fitted embed spec (knowledge.layout) as a discord.py embed: the one place they meet."""

from __future__ import annotations

import discord

from knowledge.layout import EmbedSpec


def to_discord(spec: EmbedSpec) -> discord.Embed:
    embed = discord.Embed(
        title=spec.title, description=spec.description or None, colour=spec.colour, url=spec.url
    )
    for item in spec.fields:
        embed.add_field(name=item.name, value=item.value, inline=item.inline)
    if spec.footer:
        embed.set_footer(text=spec.footer)
    return embed
