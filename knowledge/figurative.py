"""Body words that are not about the asker's body: idioms, and animals.

Search decides whether a question is on-topic by the words it names (`query.py`). Two kinds of
question name body words that belong to no person's muscles:

- idioms: "cold feet about the wedding", "neck and neck on the final lap", "a knot in my
  stomach before exams", "cramp my style". The body word is a figure of speech, so the phrase
  is taken out before search looks for its subject;
- animals: "my old dog is stiff in his back legs", "guinea pig has a lump on her back leg".
  crampbot is not a vet. A question that names an animal and gives the asker no body of their
  own ("I", "me", "my calves") is about the animal. "My calves cramp when I walk the dog" and
  "dog walking gives me shin pain" still are about the person: they speak in the first person,
  or the animal is only part of an activity ("horse riding", "walking the dog").

Pure functions over word lists, so each case is a one-line test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from knowledge.text import light_stem

# Words that give the asker a body of their own in the question. "our" and "we" are a coach
# or a parent speaking for people ("our players cramp"), which is just as human.
FIRST_PERSON = frozenset("i im ive id me my mine myself we our ours us".split())
# Words that make an animal part of what the asker does ("walking the dog", "horse riding");
# the scope's activity words ("training", "race") count too.
ANIMAL_ACTIVITIES = frozenset(
    light_stem(word)
    for word in "walk walks walked walking walker walkies ride rides rode riding rider".split()
)
SUBJECT_PRONOUNS = frozenset("i im ive id we".split())
THIRD_PERSON = frozenset("he hes him his she shes her hers".split())
# The asker's possessives: "my old rescue dog" is the dog's question, not the asker's.
POSSESSIVES = frozenset({"my", "our"})
# How far before an animal its possessive may stand.
OWNER_REACH = 3
# Words an animal's name can follow and be no animal: a "charley horse" is a cramp, "downward
# dog" a stretch, "like a turtle" a simile.
NOT_AN_ANIMAL_AFTER = frozenset({"charley", "charlie", "downward", "upward", "like", "as"})
# Yoga poses and stretches named after animals ("pigeon pose", "cat cow") are no animal either.
NOT_AN_ANIMAL_BEFORE = frozenset({"pose", "poses", "stretch", "stretches", "position", "cow"})
# How far from an animal an activity word may stand: "walking the dog", "horse riding".
ACTIVITY_REACH = 2


def literal_words(raw: Sequence[str], idioms: Mapping[str, Sequence[tuple[str, ...]]]) -> list[str]:
    """`raw` without the words of any idiom in it ("cold feet about the wedding" -> "about the
    wedding"): what is left is what the question says literally. `idioms` are filed under
    their first word (see `idioms_by_first_word`), so most words cost one dictionary miss."""
    figurative: set[int] = set()
    for start, word in enumerate(raw):
        for idiom in idioms.get(word, ()):
            if tuple(raw[start : start + len(idiom)]) == idiom:
                figurative.update(range(start, start + len(idiom)))
    if not figurative:
        return list(raw)
    return [word for at, word in enumerate(raw) if at not in figurative]


def idioms_by_first_word(idioms: Iterable[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    filed: dict[str, list[tuple[str, ...]]] = {}
    for idiom in idioms:
        if idiom:
            filed.setdefault(idiom[0], []).append(idiom)
    return filed


def animal_forms(animals: Iterable[str]) -> frozenset[str]:
    """Every written form of the animals that search should know ("dog", "dogs", "puppies"),
    so a question is checked by set lookups instead of stemming every word."""
    forms: set[str] = set()
    for animal in animals:
        forms.update({animal, animal + "s", animal + "es"})
        if animal.endswith("y"):
            forms.add(animal[:-1] + "ies")
    return frozenset(forms)


def about_an_animal(
    every_word: Sequence[str], animals: frozenset[str], activity_stems: frozenset[str]
) -> bool:
    """True when the question is about an animal's body rather than the asker's.

    `every_word` keeps single letters ("i"), which carry the first person; `animals` holds
    every written form (`animal_forms`).
    """
    found = [at for at, word in enumerate(every_word) if word in animals]
    if not found:
        return False
    stemmed = [light_stem(word) for word in every_word]
    found = [
        at
        for at in found
        if not (at and every_word[at - 1] in NOT_AN_ANIMAL_AFTER)
        and not (at + 1 < len(every_word) and every_word[at + 1] in NOT_AN_ANIMAL_BEFORE)
        and not _near(stemmed, at, activity_stems, ACTIVITY_REACH)
    ]
    if not found:
        return False
    owners = {
        at
        for animal in found
        for at in range(max(0, animal - OWNER_REACH), animal)
        if every_word[at] in POSSESSIVES
    }
    speaks_of = {word for at, word in enumerate(every_word) if at not in owners}
    if speaks_of & THIRD_PERSON:
        # "How do I massage my dog, he seems stiff": "I" is only the one who asks; the body
        # the question is about is his.
        speaks_of -= SUBJECT_PRONOUNS
    return not speaks_of & FIRST_PERSON


def _near(stemmed: Sequence[str], at: int, wanted: frozenset[str], reach: int) -> bool:
    window = [*stemmed[max(0, at - reach) : at], *stemmed[at + 1 : at + 1 + reach]]
    return any(stem in wanted for stem in window)
