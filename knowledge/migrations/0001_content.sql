-- The knowledge store. Each content row keeps its whole validated model as JSON in `data`
-- (the one place the shape is defined is knowledge/models.py) plus the columns queries need.
-- `origin` is 'seed' for rows built from seeds/ and 'api' for rows made at run time:
-- a rebuild replaces seed rows only.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sources (
    id        TEXT PRIMARY KEY,
    title     TEXT NOT NULL,
    publisher TEXT NOT NULL,
    url       TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE topics (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('cramp', 'cause', 'massage', 'care')),
    title      TEXT NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('seed', 'api')),
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX topics_kind ON topics (kind, slug);

CREATE TABLE stretches (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('seed', 'api')),
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE tips (
    id         INTEGER PRIMARY KEY,
    tip_id     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('stretching', 'hydration', 'massage', 'general')),
    origin     TEXT NOT NULL CHECK (origin IN ('seed', 'api')),
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tips_kind ON tips (kind, id);

-- Citations, so a source cannot vanish while content still cites it.
CREATE TABLE topic_sources (
    topic_id  INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    source_id TEXT NOT NULL REFERENCES sources (id),
    PRIMARY KEY (topic_id, source_id)
) WITHOUT ROWID;
CREATE INDEX topic_sources_source ON topic_sources (source_id);

CREATE TABLE stretch_sources (
    stretch_id INTEGER NOT NULL REFERENCES stretches (id) ON DELETE CASCADE,
    source_id  TEXT NOT NULL REFERENCES sources (id),
    PRIMARY KEY (stretch_id, source_id)
) WITHOUT ROWID;
CREATE INDEX stretch_sources_source ON stretch_sources (source_id);

CREATE TABLE tip_sources (
    tip_id    INTEGER NOT NULL REFERENCES tips (id) ON DELETE CASCADE,
    source_id TEXT NOT NULL REFERENCES sources (id),
    PRIMARY KEY (tip_id, source_id)
) WITHOUT ROWID;
CREATE INDEX tip_sources_source ON tip_sources (source_id);

CREATE TABLE red_flags (
    id       TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    data     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE synonyms (
    variant   TEXT PRIMARY KEY,
    canonical TEXT NOT NULL
) WITHOUT ROWID;

-- Full-text search over topics; rowid = topics.id. Column order fixes the bm25() weights.
CREATE VIRTUAL TABLE topic_fts USING fts5 (
    title, aliases, summary, body,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Whole alias phrases (normalised words), for exact phrase boosts such as "charley horse".
CREATE TABLE topic_phrases (
    phrase   TEXT NOT NULL,
    topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    PRIMARY KEY (phrase, topic_id)
) WITHOUT ROWID;
CREATE INDEX topic_phrases_topic ON topic_phrases (topic_id);

-- Every word of topic text as written (unstemmed), for correcting typos in questions.
-- `head` is 1 when the word appears in a title, alias or summary: an on-topic signal.
-- `docs` counts the topics that use the word; words in most topics carry no ranking weight.
CREATE TABLE search_words (
    word TEXT PRIMARY KEY,
    head INTEGER NOT NULL,
    docs INTEGER NOT NULL
) WITHOUT ROWID;
