-- Daily posts: subscriptions, one delivery record per (subscription, local date), and the tips each
-- subscription has seen in its current rotation cycle. Only knowledge/daily/store.py touches these.
-- No foreign key points at content tables: a content rebuild deletes and re-inserts tips, and must
-- never cascade into (or be blocked by) subscriptions. Times are unix seconds (UTC) as INTEGER, so
-- due-ness is one integer comparison on an index.

CREATE TABLE daily_subscriptions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids seed rotations
    guild_id       INTEGER NOT NULL,
    channel_id     INTEGER NOT NULL UNIQUE,           -- one subscription per channel
    created_by     INTEGER NOT NULL,
    local_time     TEXT NOT NULL CHECK (local_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    timezone       TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('stretching', 'hydration', 'alternate', 'both')),
    paused         INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    pause_reason   TEXT,
    paused_at      INTEGER,
    notify_admin   INTEGER NOT NULL DEFAULT 0 CHECK (notify_admin IN (0, 1)),
    admin_notified INTEGER NOT NULL DEFAULT 0 CHECK (admin_notified IN (0, 1)),
    next_due_utc   INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- The scheduler's only scan: active subscriptions by due time. guild_id rides along so the shard
-- filter ((guild_id >> 22) % shard_count) is decided from the index before any table lookup, and
-- the constant `paused` column lets SQLite treat id-only scans and the earliest-due lookup as
-- covering (it does not count the partial index's own WHERE as covered otherwise).
CREATE INDEX daily_subscriptions_due
    ON daily_subscriptions (next_due_utc, guild_id, paused) WHERE paused = 0;
CREATE INDEX daily_subscriptions_guild ON daily_subscriptions (guild_id);
CREATE INDEX daily_subscriptions_notices
    ON daily_subscriptions (id) WHERE paused = 1 AND notify_admin = 1 AND admin_notified = 0;

CREATE TABLE daily_deliveries (
    subscription_id  INTEGER NOT NULL REFERENCES daily_subscriptions (id) ON DELETE CASCADE,
    local_date       TEXT NOT NULL,                  -- YYYY-MM-DD in the subscription's zone
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    created_by       INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped', 'failed')),
    nonce            TEXT NOT NULL UNIQUE CHECK (length(nonce) BETWEEN 1 AND 25),
    tip_ids          TEXT NOT NULL DEFAULT '[]',     -- JSON array, fixed at claim time
    attempts         INTEGER NOT NULL DEFAULT 0,
    message_id       INTEGER,
    lease_owner      TEXT,
    lease_until      INTEGER,
    due_utc          INTEGER NOT NULL,
    deadline_utc     INTEGER NOT NULL,
    claimed_utc      INTEGER NOT NULL,
    last_attempt_utc INTEGER,
    finished_utc     INTEGER,
    note             TEXT,
    PRIMARY KEY (subscription_id, local_date)        -- the "one post per local day" guarantee
) WITHOUT ROWID;
-- Deliveries whose claimer may have died: found by lease expiry, and only among those in flight.
CREATE INDEX daily_deliveries_leases ON daily_deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX daily_deliveries_due ON daily_deliveries (due_utc);

CREATE TABLE daily_tip_history (
    subscription_id INTEGER NOT NULL REFERENCES daily_subscriptions (id) ON DELETE CASCADE,
    tip_kind        TEXT NOT NULL,
    tip_id          TEXT NOT NULL,
    local_date      TEXT NOT NULL,
    PRIMARY KEY (subscription_id, tip_kind, tip_id)
) WITHOUT ROWID;
