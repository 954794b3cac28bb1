"""Tags from captions: keywords, no stop words or BLIP artifacts, singular, first-seen order."""

from __future__ import annotations

import subprocess
import sys

import pytest

from photocap.vision.tags import singular, tags_from_captions


def test_keywords_in_first_seen_order():
    captions = [
        "arafed man sitting on a bench with two dogs",
        "a photography of a red bus in the city",
        "there is a woman holding puppies and boxes",
    ]
    expected = ["man", "bench", "dog", "red", "bus", "city", "woman", "puppy", "box"]
    assert tags_from_captions(captions) == expected


def test_blip_artifacts_and_fillers_are_dropped():
    assert tags_from_captions(["araffe standing in a field", "there is a picture of an arafed cat"]) == [
        "field",
        "cat",
    ]
    assert tags_from_captions(["a photography of the"]) == []


def test_duplicates_fold_across_plural_and_case():
    assert tags_from_captions(["Dogs and a DOG", "a dog"]) == ["dog"]


def test_max_tags():
    words = "apple banana cherry grape lemon mango melon olive peach pear plum quince"
    assert tags_from_captions([words], max_tags=5) == words.split()[:5]
    assert len(tags_from_captions([words + " kiwi lime"])) == 12


@pytest.mark.parametrize(
    "plural, single",
    [
        ("dogs", "dog"), ("puppies", "puppy"), ("boxes", "box"), ("benches", "bench"), ("dishes", "dish"),
        ("dresses", "dress"), ("houses", "house"), ("horses", "horse"), ("shoes", "shoe"),
        ("photos", "photo"),
        ("tomatoes", "tomato"), ("leaves", "leaf"), ("knives", "knife"), ("women", "woman"),
        ("children", "child"), ("buses", "bus"), ("movies", "movie"), ("waves", "wave"),
    ],
)
def test_plurals_fold(plural, single):
    assert singular(plural) == single


@pytest.mark.parametrize(
    "word",
    ["glass", "grass", "bus", "gas", "cactus", "tennis", "lens", "glasses", "jeans", "canvas", "sky", "red"],
)
def test_words_that_only_look_plural_stay(word):
    assert singular(word) == word


def test_colours_and_nouns_survive():
    tags = tags_from_captions(["a white and black cat on a green sofa"])
    assert tags == ["white", "black", "cat", "green", "sofa"]


def test_tags_need_no_torch():
    code = "import sys, photocap.vision.tags; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
