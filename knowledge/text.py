"""Text clean-up shared by search and triage, so both read a question the same way."""

from __future__ import annotations

import re
import unicodedata

# Longer input is cut here: no real question is longer, and it bounds the work per request.
MAX_QUERY_CHARS = 1000

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"})
_WORD = re.compile(r"[a-z0-9]+")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-case, NFKC-fold, drop control, zero-width and direction characters, squeeze spaces."""
    text = text[: MAX_QUERY_CHARS * 2]
    if text.isascii() and text.isprintable():
        # Most questions: Unicode folding would change nothing here, and skipping the
        # per-character walk makes this about ten times cheaper on every search and triage.
        return _SPACES.sub(" ", text.lower()).strip()[:MAX_QUERY_CHARS]
    return unicode_normalize(text)


def unicode_normalize(text: str) -> str:
    """`normalize` the long way, for any text (public so tests can compare both paths)."""
    text = unicodedata.normalize("NFKC", text[: MAX_QUERY_CHARS * 2]).translate(_QUOTES)
    kept = [
        " " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch
        for ch in text
        if unicodedata.category(ch) not in {"Cf", "Cs", "Co", "Cn"}
    ]
    cleaned = unicodedata.normalize("NFKD", "".join(kept).casefold())
    without_marks = "".join(ch for ch in cleaned if not unicodedata.combining(ch))
    return _SPACES.sub(" ", without_marks).strip()[:MAX_QUERY_CHARS]


def words(text: str) -> list[str]:
    """The ASCII letter-and-digit words of already normalised text."""
    return _WORD.findall(text)


def query_words(text: str) -> list[str]:
    """The words search looks at: single letters ("writer's" -> "writer", "s") carry nothing."""
    return [word for word in words(normalize(text)) if len(word) > 1]


def phrase_key(text: str) -> str:
    """A phrase reduced to the words search sees, so aliases and questions compare equal."""
    return " ".join(query_words(text))


def light_stem(word: str) -> str:
    """A crude English stem ("cramps", "cramping", "cramped" -> "cramp") for matching alias words.

    FTS5's Porter stemmer does this inside SQLite; this is the small Python twin for comparing
    word bags in memory, where over-stemming a rare word costs nothing.
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    for suffix, min_length in (("ing", 6), ("ed", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= min_length and not word.endswith("ss"):
            stem = word[: -len(suffix)]
            if suffix in {"ing", "ed"} and len(stem) > 2 and stem[-1] == stem[-2]:
                stem = stem[:-1]  # "stopped" -> "stop", "running" -> "run"
            return stem
    return word


_BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|#|>|\||\*\*)")


_INDENT = " \t"


def unwrap(markdown: str) -> str:
    """Join the hard-wrapped lines of each paragraph or list item into one line.

    Content files wrap at about 100 columns for editors; Discord shows every newline, so a
    wrapped sentence would break mid-line in an embed. Blank lines, list items and other
    block starts keep their line. Only "\n" counts as a line break here; other break
    characters are left for validation to report.
    """
    lines: list[str] = []
    for raw in markdown.strip("\n").split("\n"):
        line = raw.rstrip(_INDENT)
        block = bool(_BLOCK_START.match(line))
        if lines and lines[-1].strip() and line.strip() and not block:
            lines[-1] = lines[-1] + " " + line.lstrip(_INDENT)
        else:
            lines.append(line.lstrip(_INDENT) if block else line)
    return "\n".join(lines)
