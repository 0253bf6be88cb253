"""Idioms and animals: body words that are not about the asker's body."""

import pytest

from knowledge.figurative import about_an_animal, animal_forms, idioms_by_first_word, literal_words
from knowledge.query import a_side_as_football, ages_as_words
from knowledge.text import light_stem, normalize, query_words, words

ANIMALS = animal_forms(["dog", "horse", "gecko", "cat", "pigeon", "turtle"])
ACTIVITIES = frozenset(light_stem(w) for w in ["walk", "walking", "riding", "run"])


def animal(question: str) -> bool:
    return about_an_animal(words(normalize(question)), ANIMALS, ACTIVITIES)


def test_an_idiom_is_taken_out_and_the_rest_is_kept() -> None:
    raw = query_words("cold feet about the wedding, and my feet are cold")
    assert literal_words(raw, idioms_by_first_word([("cold", "feet", "about")])) == [
        "the", "wedding", "and", "my", "feet", "are", "cold"
    ]  # fmt: skip


def test_words_that_only_look_like_an_idiom_stay() -> None:
    raw = query_words("my feet are always cold")
    assert literal_words(raw, idioms_by_first_word([("cold", "feet", "about")])) == raw


@pytest.mark.parametrize(
    "question",
    [
        "my dog's back leg keeps spasming while he sleeps",
        "horse has a tight back after jumping",
        "how do i massage my old dog, he seems really stiff",
        "my leopard gecko's back legs look stiff",
        "is it normal that my cat twitches in her sleep",
    ],
)
def test_a_question_about_an_animal_body_is_the_animals(question: str) -> None:
    assert animal(question)


@pytest.mark.parametrize(
    "question",
    [
        "my calves cramp when i walk the dog",
        "calves cramp every time i take the dog for a run",
        "dog walking gives me shin pain",
        "horse riding makes my thighs ache",
        "charley horse in my calf last night",
        "the dog jumped on me and now my back is in spasm",
        "i cramp up every time i chase the dog",
        "calf cramps after running",
        "easier alternative to pigeon pose for tight glutes",  # a pose, not a bird
        "head sticks out forward like a turtle when im streaming",  # a simile
        "downward dog hurts my hamstrings",
    ],
)
def test_a_question_about_the_askers_body_is_theirs(question: str) -> None:
    assert not animal(question)


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("my 8 yr old keeps waking", ["my", "child", "keeps", "waking"]),
        ("his 78 year old dad", ["his", "older", "dad"]),
        ("8yo son", ["child", "son"]),
        ("my 5 yo", ["my", "child"]),
        ("im 30 years old", ["im", "adult"]),
        ("5 years ago", ["5", "years", "ago"]),  # a time, not an age
        ("for 5yrs now", ["for", "5yrs", "now"]),
        ("10k run", ["10k", "run"]),
    ],
)
def test_an_age_reads_as_child_adult_or_older(text: str, read: list[str]) -> None:
    assert ages_as_words(text.split()) == read


def test_five_a_side_is_football_not_a_side() -> None:
    assert a_side_as_football("cramp at 5 a side tonight".split()) == [
        "cramp", "at", "football", "tonight"
    ]  # fmt: skip
    assert a_side_as_football("pain in my left side".split()) == "pain in my left side".split()
