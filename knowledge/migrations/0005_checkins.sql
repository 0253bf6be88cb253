-- Check-ins: a member pressed Done for a kind of tip on a day (their own local day, or the day of
-- the daily post they pressed it on). One per member, kind and day, whatever they press. Kept
-- 400 days (pruned daily), deleted by `/me forget`.

CREATE TABLE checkins (
    user_id    INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('stretching', 'hydration')),
    local_date TEXT NOT NULL CHECK (local_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    source     TEXT NOT NULL CHECK (source IN ('daily', 'reminder')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, local_date)
) WITHOUT ROWID;
CREATE INDEX checkins_date ON checkins (local_date);
