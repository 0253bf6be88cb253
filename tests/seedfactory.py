"""Small, valid seed trees written to temporary folders, for tests that break them on purpose."""

from __future__ import annotations

import textwrap
from pathlib import Path

SOURCES = """\
- id: test-source
  title: A test source
  publisher: Test Publisher
  url: https://example.org/cramps
"""

TOPIC = """\
---
slug: {slug}
kind: cramp
title: {title}
aliases: [{alias}]
summary: {title} is a sudden tight muscle.
stretches: [wall-stretch]
sources: [test-source]
---

## What it is
A muscle that tightens and will not let go.

## What to do now
Stretch it gently and hold.
"""

STRETCH = """\
---
slug: wall-stretch
title: Wall stretch
region: calf
target_muscles: [calf]
hold_seconds: 30
repetitions: 3
cautions: [Stop if it hurts.]
topics: [{slug}]
sources: [test-source]
---

1. Face a wall.
2. Lean in with one leg back.
"""

TIPS = """\
- id: tip-one
  text: Stretch your calves for thirty seconds before bed.
  sources: [test-source]
- id: tip-two
  text: Stand up and walk around every hour when you sit at a desk.
  sources: [test-source]
"""

RED_FLAGS = r"""
- id: chest-pain
  level: emergency
  title: Chest pain
  message: Call your local emergency number now.
  source: test-source
  when:
    - [chest-pain]
  examples: [I have chest pain]
"""

TRIAGE_TERMS = """\
chest-pain:
  - chest pain|pains
"""


def write_seeds(
    root: Path, *, slug: str = "calf-cramp", title: str = "Calf cramp", alias: str = "charley horse"
) -> Path:
    """A complete, valid seed folder with one of everything; returns its path."""
    (root / "topics").mkdir(parents=True, exist_ok=True)
    (root / "stretches").mkdir(exist_ok=True)
    (root / "tips").mkdir(exist_ok=True)
    (root / "sources.yaml").write_text(SOURCES)
    (root / "topics" / f"{slug}.md").write_text(TOPIC.format(slug=slug, title=title, alias=alias))
    (root / "stretches" / "wall-stretch.md").write_text(STRETCH.format(slug=slug))
    (root / "tips" / "stretching.yaml").write_text(TIPS)
    (root / "red_flags.yaml").write_text(textwrap.dedent(RED_FLAGS))
    (root / "triage_terms.yaml").write_text(TRIAGE_TERMS)
    return root
