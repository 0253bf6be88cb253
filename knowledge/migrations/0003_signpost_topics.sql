-- Topics may be of kind 'signpost': a short page for something people call "a cramp" that is not
-- a muscle cramp (period pain, restless legs), saying what it is and where to go.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt. Migrations run in a
-- transaction with foreign keys on, where DROP TABLE deletes the rows of every ON DELETE CASCADE
-- child first; the children's rows are kept aside and put back, so nothing is lost.
CREATE TABLE topics_rebuilt (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('cramp', 'cause', 'massage', 'care', 'signpost')),
    title      TEXT NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('seed', 'api')),
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO topics_rebuilt (id, slug, kind, title, origin, data, updated_at)
    SELECT id, slug, kind, title, origin, data, updated_at FROM topics;
CREATE TEMP TABLE kept_topic_sources AS SELECT topic_id, source_id FROM topic_sources;
CREATE TEMP TABLE kept_topic_phrases AS SELECT phrase, topic_id FROM topic_phrases;
DROP TABLE topics;
ALTER TABLE topics_rebuilt RENAME TO topics;
CREATE INDEX topics_kind ON topics (kind, slug);
INSERT INTO topic_sources (topic_id, source_id) SELECT topic_id, source_id FROM kept_topic_sources;
INSERT INTO topic_phrases (phrase, topic_id) SELECT phrase, topic_id FROM kept_topic_phrases;
DROP TABLE kept_topic_sources;
DROP TABLE kept_topic_phrases;
