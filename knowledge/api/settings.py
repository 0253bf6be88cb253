"""Content API settings, read from the environment or `.env` like every other crampbot setting.

The limits live here rather than as constants so an operator can tighten them without a release,
and so tests can set small ones to reach each refusal cheaply.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.text import MAX_QUERY_CHARS


class ApiSettings(BaseSettings):
    """Where the API listens, who may write, and how much one request may ask for."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # `CRAMPBOT_API_PORT=` in .env means "use the default", as in .env.example and as for
        # every other crampbot setting.
        env_ignore_empty=True,
    )

    host: str = Field(default="127.0.0.1", alias="CRAMPBOT_API_HOST")
    # 0 asks the system for a free port (tests); the bound port is on `ApiServer.port`.
    port: int = Field(default=8080, ge=0, le=65535, alias="CRAMPBOT_API_PORT")
    # Unset (or empty) means writes are off: every write answers 403 and says how to turn them on.
    token: SecretStr | None = Field(default=None, alias="CRAMPBOT_API_TOKEN")

    # Search cuts questions at MAX_QUERY_CHARS anyway; refusing longer ones says so instead of
    # answering a question the user did not quite ask.
    max_query_chars: int = Field(
        default=500, ge=1, le=MAX_QUERY_CHARS, alias="CRAMPBOT_API_MAX_QUERY_CHARS"
    )
    max_page_size: int = Field(default=100, ge=1, le=1000, alias="CRAMPBOT_API_MAX_PAGE_SIZE")
    default_page_size: int = Field(default=20, ge=1, le=1000, alias="CRAMPBOT_API_PAGE_SIZE")
    # A topic is a few KiB of JSON; 64 KiB leaves room for long ones and bounds parsing work.
    max_body_bytes: int = Field(default=65536, ge=1024, alias="CRAMPBOT_API_MAX_BODY_BYTES")
    # How long clients and proxies may reuse a read without asking again; ETags make asking cheap.
    cache_max_age: int = Field(default=60, ge=0, alias="CRAMPBOT_API_CACHE_MAX_AGE")
    # Keep each search answer, by URL, until the content changes: an answer is a pure function
    # of the question and the content, and popular questions repeat. Off, every search runs the
    # engine (the benchmark measures both).
    search_cache: bool = Field(default=True, alias="CRAMPBOT_API_SEARCH_CACHE")

    # Connection limits. The API shares its process, and so its file descriptors, with the bot
    # and the daily scheduler: a client that connects and then says nothing, or trickles its
    # request head a byte at a time, must not hold a descriptor for long, and the API as a whole
    # must never hold so many that the bot cannot open a file or a socket.
    #
    # Seconds a client has, from connecting (or from the first byte of a further request on a
    # kept-alive connection), to send a complete request line and headers. Real clients need
    # milliseconds; 10 s leaves room for slow mobile links.
    header_timeout: float = Field(default=10.0, gt=0, le=300, alias="CRAMPBOT_API_HEADER_TIMEOUT")
    # Seconds an idle kept-alive connection stays open after a response (uvicorn's default).
    keep_alive: int = Field(default=5, ge=1, le=300, alias="CRAMPBOT_API_KEEP_ALIVE")
    # Open connections at most. At the cap a new connection closes the oldest idle one (no
    # request in flight) to make room, or is refused with a 503 when every one is busy. It is
    # lowered at start to a quarter of the process's file-descriptor limit (RLIMIT_NOFILE), so
    # that with the default limit of 1,024 the bot always keeps most of them.
    max_connections: int = Field(default=256, ge=1, le=65536, alias="CRAMPBOT_API_MAX_CONNECTIONS")

    @field_validator("token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`CRAMPBOT_API_TOKEN=` in a `.env` file means "no token", not "the empty token"."""
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value

    @property
    def writes_enabled(self) -> bool:
        return self.token is not None

    def page_default(self) -> int:
        """The page size used when a request gives none (never above the maximum)."""
        return min(self.default_page_size, self.max_page_size)
