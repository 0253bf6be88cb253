"""Prometheus metrics for one crampbot process, served at the API's /metrics.

Kept free of discord: the bot records into these, and hands over a probe for the gateway's
state, which is read when metrics are scraped rather than polled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
ANSWER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class ShardState:
    shard_id: int
    connected: bool
    latency_seconds: float | None


GatewayProbe = Callable[[], list[ShardState]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "crampbot_commands",
            "Slash commands and buttons answered, by name.",
            ["command"],
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "crampbot_answer_seconds",
            "Time from receiving an interaction to sending its answer.",
            ["command"],
            buckets=ANSWER_BUCKETS,
            registry=self.registry,
        )
        self.daily_posts = Counter(
            "crampbot_daily_posts",
            "Daily tips by outcome: sent, failed, paused (subscription paused), skipped.",
            ["outcome"],
            registry=self.registry,
        )
        self.gateway_latency = Gauge(
            "crampbot_gateway_latency_seconds",
            "Heartbeat round trip to Discord's gateway, per shard.",
            ["shard"],
            registry=self.registry,
        )
        self.shard_connected = Gauge(
            "crampbot_shard_connected",
            "1 when the shard's gateway connection is up, else 0.",
            ["shard"],
            registry=self.registry,
        )
        self.gateway_probe: GatewayProbe | None = None
        self._per_command: dict[str, tuple[Any, Any]] = {}

    def answered(self, command: str, seconds: float) -> None:
        """One answered interaction; the labelled children are kept to spare a lookup each."""
        children = self._per_command.get(command)
        if children is None:
            children = (self.commands.labels(command), self.answer_seconds.labels(command))
            self._per_command[command] = children
        children[0].inc()
        children[1].observe(seconds)

    def shards(self) -> list[ShardState] | None:
        """The gateway's state now, or None when this process runs no bot."""
        return self.gateway_probe() if self.gateway_probe is not None else None

    def render(self) -> bytes:
        for state in self.shards() or []:
            label = str(state.shard_id)
            self.shard_connected.labels(label).set(1 if state.connected else 0)
            if state.latency_seconds is not None:
                self.gateway_latency.labels(label).set(state.latency_seconds)
        return bytes(generate_latest(self.registry))
