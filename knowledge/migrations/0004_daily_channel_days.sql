-- The days each channel got (or is getting) a daily post, whichever subscription claimed it.
-- Deliveries belong to a subscription and go with it, so `/daily off` then `/daily set` in the
-- same channel on the same day made a new subscription with no record of that day's post and
-- posted again. This table is not tied to a subscription, so the day is remembered.
CREATE TABLE daily_channel_days (
    channel_id      INTEGER NOT NULL,
    local_date      TEXT NOT NULL,                   -- YYYY-MM-DD in the claiming subscription's zone
    subscription_id INTEGER NOT NULL,
    PRIMARY KEY (channel_id, local_date)
) WITHOUT ROWID;
INSERT OR IGNORE INTO daily_channel_days (channel_id, local_date, subscription_id)
    SELECT channel_id, local_date, subscription_id FROM daily_deliveries
    WHERE status IN ('sending', 'sent', 'failed');
