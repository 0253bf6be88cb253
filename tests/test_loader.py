"""The seed loader: valid content loads; every broken file is reported with file and line."""

from __future__ import annotations

import os
from pathlib import Path

from knowledge.checks import SHIPPED_POLICY, check_content
from knowledge.loader import Problem, load_seeds
from knowledge.runtime import check_seeds
from tests.seedfactory import write_seeds


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def test_shipped_seeds_pass_every_check(seeds_dir: Path) -> None:
    assert messages(check_seeds(seeds_dir, SHIPPED_POLICY)) == []


def test_valid_seed_tree_loads_everything(tmp_path: Path) -> None:
    content, problems = load_seeds(write_seeds(tmp_path / "seeds"))
    assert problems == []
    assert [t.slug for t in content.topics] == ["calf-cramp"]
    topic = content.topics[0]
    assert [s.heading for s in topic.sections] == ["What it is", "What to do now"]
    assert content.stretches[0].steps == ["Face a wall.", "Lean in with one leg back."]
    assert {t.kind.value for t in content.tips} == {"stretching"}
    assert content.red_flags[0].id == "chest-pain"
    assert check_content(content) == []


def test_field_errors_point_at_their_line(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    text = topic.read_text().replace("kind: cramp", "kind: cramps")
    topic.write_text(text.replace("sources: [test-source]", "sources: []"))
    found = messages(load_seeds(seeds)[1])
    assert any(m.startswith("seeds/topics/calf-cramp.md:3: kind:") for m in found), found
    assert any(m.startswith("seeds/topics/calf-cramp.md:8: sources:") for m in found), found


def test_every_problem_in_one_run(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    (seeds / "tips" / "stretching.yaml").write_text(
        "- id: long-tip\n  text: " + "x" * 300 + "\n  sources: [test-source]\n"
        "- id: no-source\n  text: Drink water.\n  sources: []\n"
    )
    (seeds / "tips" / "hydration.yaml").write_text("- id: broken\n  text: [unclosed\n")
    (seeds / "stretches" / "wall-stretch.md").write_text("no front matter here\n")
    found = messages(load_seeds(seeds)[1])
    assert any(m.startswith("seeds/tips/stretching.yaml:2: text:") for m in found), found
    assert "seeds/tips/stretching.yaml:6: sources: needs at least 1 item(s)" in found, found
    assert any(m.startswith("seeds/tips/hydration.yaml:") and "YAML" in m for m in found), found
    assert any(m.startswith("seeds/stretches/wall-stretch.md:1:") for m in found), found


def test_unknown_heading_and_field_are_named(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    text = topic.read_text().replace("## What to do now", "## What to do")
    topic.write_text(text.replace("kind: cramp", "kind: cramp\ncolour: blue"))
    found = messages(load_seeds(seeds)[1])
    assert any("colour: unknown field" in m and ":4:" in m for m in found), found
    assert any("unknown section heading 'What to do'" in m and ":15:" in m for m in found), found


def test_cross_references_and_duplicates_are_reported(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    topic.write_text(topic.read_text().replace("stretches: [wall-stretch]", "related: [nowhere]"))
    stretch = seeds / "stretches" / "wall-stretch.md"
    stretch.write_text(stretch.read_text().replace("topics: [calf-cramp]", "topics: []"))
    (seeds / "tips" / "general.yaml").write_text(
        "- id: tip-one\n  text: Another tip with a taken id.\n  sources: [test-source]\n"
        "- id: near-copy\n  text: Stretch your calves for 30 seconds before bed!\n"
        "  sources: [missing-source]\n"
    )
    # general.yaml is the file edited last, so it is the one blamed for the clash.
    os.utime(seeds / "tips" / "stretching.yaml", (1_000_000, 1_000_000))
    content, problems = load_seeds(seeds)
    found = messages([*problems, *check_content(content)])
    assert any(
        m.startswith(
            "seeds/tips/general.yaml:1: tip 'tip-one' is already defined at "
            "seeds/tips/stretching.yaml:"
        )
        for m in found
    ), found
    assert any("related: no topic 'nowhere'" in m for m in found), found
    assert any("a cramp topic needs at least one stretch" in m for m in found), found
    assert any("no source 'missing-source'" in m for m in found), found
    assert any("nearly repeats" in m and "near-copy" in m and "tip-one" in m for m in found), found


def test_a_duplicate_slug_blames_the_newer_file(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    older = seeds / "topics" / "calf-cramp.md"
    newer = seeds / "topics" / "a-copy.md"  # read first: it sorts before calf-cramp.md
    newer.write_text(older.read_text())
    os.utime(older, (1_000_000, 1_000_000))
    found = messages(load_seeds(seeds)[1])
    assert any(
        m.startswith("seeds/topics/a-copy.md:")
        and "already defined at seeds/topics/calf-cramp.md" in m
        for m in found
    ), found
    assert not any(m.startswith("seeds/topics/calf-cramp.md") for m in found), found


def test_one_bad_field_reports_only_its_cause(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    topic.write_text(topic.read_text().replace("kind: cramp", "kind: crmap"))
    content, problems = load_seeds(seeds)
    found = messages([*problems, *check_content(content)])
    # The stretch that serves calf-cramp is not reported as pointing at a missing topic.
    assert len(found) == 1 and "kind" in found[0] and ":3:" in found[0], found


def test_unknown_references_suggest_the_nearest_id(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    topic.write_text(topic.read_text().replace("sources: [test-source]", "sources: [test-sorce]"))
    content, _ = load_seeds(seeds)
    found = messages(check_content(content))
    assert found == [
        "seeds/topics/calf-cramp.md:8: sources: no source 'test-sorce'; did you mean 'test-source'?"
    ]


def test_red_flag_examples_must_trigger(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    flags = seeds / "red_flags.yaml"
    flags.write_text(flags.read_text().replace("I have chest pain", "my chest feels odd"))
    content, problems = load_seeds(seeds)
    assert problems == []
    found = messages(check_content(content))
    # The line of the example itself, not of the rule it belongs to.
    assert found == [
        "seeds/red_flags.yaml:9: example 'my chest feels odd' does not trigger 'chest-pain'"
    ]


def test_counter_examples_must_not_trigger(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    flags = seeds / "red_flags.yaml"
    flags.write_text(flags.read_text() + "  counter_examples:\n    - no pain\n    - chest pains\n")
    content, problems = load_seeds(seeds)
    assert problems == []
    assert messages(check_content(content)) == [
        "seeds/red_flags.yaml:12: counter-example 'chest pains' triggers 'chest-pain'"
    ]


def test_coverage_policy_names_what_is_missing(tmp_path: Path) -> None:
    content, _ = load_seeds(write_seeds(tmp_path / "seeds"))
    found = messages(check_content(content, SHIPPED_POLICY))
    assert "seeds/topics: missing required topic 'back-spasm' (back-spasm.md)" in found
    assert "seeds/stretches: no stretch for the neck" in found
    assert "seeds/tips: 2 stretching tips; at least 60 needed" in found


def test_a_rule_naming_an_unknown_term_says_which_and_suggests_one(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    flags = seeds / "red_flags.yaml"
    flags.write_text(flags.read_text().replace("- [chest-pain]", "- [chest-pian]"))
    content, problems = load_seeds(seeds)
    assert problems == []
    found = messages(check_content(content))
    # One problem, the real cause, on the clause's line: no cascade of failing examples.
    assert found == [
        "seeds/red_flags.yaml:8: when: no term 'chest-pian' in triage_terms.yaml; "
        "did you mean 'chest-pain'?"
    ]


def test_a_bad_wording_is_reported_on_its_line(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    (seeds / "triage_terms.yaml").write_text(
        "chest-pain:\n  - chest pain|pains\n  - (unclosed chest\n  - pain in @chst\n"
    )
    content, problems = load_seeds(seeds)
    found = messages(problems)
    assert any(m.startswith("seeds/triage_terms.yaml:3:") and "'(' without ')'" in m for m in found)
    assert any(
        m.startswith("seeds/triage_terms.yaml:4:") and "no term @chst" in m for m in found
    ), found
    # The good wording still counts: the rule's example is not reported as a second problem.
    assert messages(check_content(content)) == []


def test_wrapped_lines_become_one_line_per_paragraph_and_list_item(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    topic.write_text(
        topic.read_text().replace(
            "A muscle that tightens and will not let go.",
            "A muscle that tightens\nand will not let go.\n\n- first item\n  wraps here\n- second",
        )
    )
    content, problems = load_seeds(seeds)
    assert problems == []
    section = content.topics[0].sections[0]
    assert section.body == (
        "A muscle that tightens and will not let go.\n\n- first item wraps here\n- second"
    )
