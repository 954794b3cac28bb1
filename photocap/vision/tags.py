"""Tags from captions: the meaningful words, singular, in the order they first appear. Pure Python."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z]+")

_STOP = frozenset(
    """
    a an the this that these those there here it its it's they them their he him his she her hers we us our
    you your i me my one ones some any each every all both either neither other another such same own
    is are was were be been being am do does did doing has have had having will would can could may might
    shall should must not no nor only very too so than then just also still even ever again more most
    less least much many few several lot lots
    and or but if as of at by for from in into onto on off out over under up down to with without within
    about above across after against along among around before behind below beneath beside besides between
    beyond during inside near next outside through toward towards upon via while where when which who whom
    whose what why how
    photo photos photograph photographs photography picture pictures image images shot view close closeup
    showing shows shown depicting featuring front background foreground top bottom side left right middle
    center centre part kind sort type something someone thing things
    sitting sits sit standing stands stand laying lays lying lies holding holds looking looks posing poses
    wearing wears being getting made making taken having doing going
    two three four five six seven eight nine ten eleven twelve dozen hundred thousand first second third
    couple pair group bunch
    arafed araffe arafe araf arafly arafian
    """.split()
)

# Plurals that the suffix rules get wrong.
_IRREGULAR = {
    "men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "geese": "goose", "oxen": "ox", "leaves": "leaf", "knives": "knife",
    "wives": "wife", "lives": "life", "wolves": "wolf", "shelves": "shelf", "scarves": "scarf",
    "halves": "half", "calves": "calf", "loaves": "loaf", "thieves": "thief", "elves": "elf",
    "tomatoes": "tomato", "potatoes": "potato", "heroes": "hero", "mangoes": "mango",
    "volcanoes": "volcano", "echoes": "echo", "buses": "bus", "gases": "gas", "lenses": "lens",
    "cacti": "cactus", "fungi": "fungus", "movies": "movie", "cookies": "cookie", "selfies": "selfie",
    "zombies": "zombie", "brownies": "brownie", "hoodies": "hoodie", "smoothies": "smoothie",
    "pies": "pie", "ties": "tie", "dice": "die",
}
# Words that end in "s" but are not plurals (or read better as they are).
_KEEP = frozenset(
    """
    glasses sunglasses goggles binoculars jeans pants shorts trousers scissors clothes stairs news series
    species christmas canvas atlas texas pajamas pyjamas chaos cosmos lens
    """.split()
)


def tags_from_captions(captions: list[str], *, max_tags: int = 12) -> list[str]:
    """Lowercase keywords from `captions`, stop words and BLIP artifacts removed, plurals folded."""
    tags: list[str] = []
    for caption in captions:
        for word in _WORD.findall(caption.lower()):
            if len(word) < 2 or word in _STOP or word.startswith("araf"):
                continue
            tag = singular(word)
            if tag not in tags and tag not in _STOP:
                tags.append(tag)
                if len(tags) >= max_tags:
                    return tags
    return tags


def singular(word: str) -> str:
    """A simple English singular: dogs->dog, puppies->puppy, boxes->box; glass, bus stay."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _KEEP or len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith(("ss", "us", "is")):
        return word  # glass, cactus, tennis
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"  # puppies, berries
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]  # dresses, boxes, benches, dishes, buzzes
    return word[:-1]  # dogs, houses, shoes, photos
