"""The English grammar: simple stories about a child, a thing, friends, places and feelings.

Rule data only (see ``grammar`` for the template syntax). ``english_rules()`` also holds the
single labelled sentences (sentiment, topic, named entities) that ``generate_labelled`` draws
for chapter 5. Taught in chapter 1.
"""

from __future__ import annotations

from itertools import cycle

from labkit.data.pcfg import RawGrammar, fill_templates

_HERO_NAMES = (
    "Tom Anna Ben Lily Max Mia Sam Zoe Leo Emma Jack Rosa "
    "Finn Ivy Noah Ella Owen Ruby Luke Nora Adam Lucy Eli Amy"
).split()
HEROES = dict(zip(_HERO_NAMES, cycle(("he", "she"))))
"""The heroes of the stories and their pronouns (boys and girls take turns)."""

_PRONOUNS = {
    "he": {"he": "he", "He": "He", "kid": "boy"},
    "she": {"he": "she", "He": "She", "kid": "girl"},
}


def _shared_rules() -> RawGrammar:
    """Word lists and slots that every hero's story shares."""
    return {
        "<story>": [f"<story_{h}>" for h in HEROES],
        # The hero's friends: other names, so "Tom ... gave it to Kim" never names Tom twice.
        "<friend>": (
            "Kim Ali Bo Dan Eva Gus Hana Ian Jon Kai Lea Ned Ola Pat Raj Sia Ted Uma Val Wes "
            "Yara Zack Cal Dot Fay Gil Hal Ira Joy Kit Liv Mae Nia Pia Rex Tia"
        ).split(),
        # An optional size, an optional colour, then the thing itself.
        "<thing>": ["<size> <color> <toy>", "<color> <toy>", "<size> <toy>", "<toy>"],
        "<size>": "big small tiny huge long short new soft shiny funny".split(),
        "<color>": (
            "red blue green pink gray gold black white brown purple yellow silver dark striped"
        ).split(),
        "<toy>": (
            "ball kite doll car book boat drum hat train robot puzzle cup bell sock coin map key "
            "shell spoon plane sled flute bike lamp rope cap fan jar pen bag bowl card clock comb "
            "horn mask net tent whistle kettle basket scarf stone wagon shoe puppet"
        ).split(),
        "<place>": (
            "park garden forest beach school kitchen river farm zoo yard lake hill shop barn pond "
            "city market library cave field bakery harbor meadow castle"
        ).split(),
        "<where>": {
            "": 3,
            " in the <place>": 2,
            " near the <place>": 1,
            " by the <place>": 1,
            " under the <spot>": 1,
            " on the <spot>": 1,
        },
        "<spot>": "bed table chair sofa tree bench rug stairs roof bridge".split(),
        "<when>": {
            "": 4,
            " at <hour>": 1,
            " at noon": 1,
            " at night": 1,
            " in the morning": 1,
            " after lunch": 1,
            " for <number> days": 1,
        },
        "<hour>": [str(k) for k in range(1, 13)],
        "<feeling>": (
            "happy sad tired hungry scared excited proud angry sleepy bored glad calm shy busy"
        ).split(),
        "<animal>": (
            "dog cat bird frog duck cow pig goat hen owl bee ant horse rabbit lamb crab bear seal "
            "snail mole"
        ).split(),
        "<animal_did>": [
            "barked",
            "sat down",
            "ran away",
            "came back",
            "fell asleep",
            "jumped",
            "looked at them",
            "sang",
            "hid",
            "ate a bug",
            "swam",
            "got lost",
        ],
        "<food>": (
            "cake soup bread rice pie apples cookies eggs jam pasta grapes corn plums nuts fish "
            "beans"
        ).split(),
        "<weather>": "sunny rainy windy cold warm snowy foggy hot".split(),
        "<together>": "played ran sang danced laughed sat ate read swam hid talked waited".split(),
        "<verb>": (
            "saw washed painted dropped fixed kicked threw hugged opened carried found drew sold "
            "broke cleaned lost bought hid wanted shared"
        ).split(),
        "<number>": [str(k) for k in range(2, 100)],
        "<age>": [str(k) for k in range(3, 13)],
    }


# One copy per hero: {H} is the name, {he}/{He} the pronoun.
_HERO_RULES: RawGrammar = {
    "<story_{H}>": ["<intro_{H}><body_{H}>"],
    "<intro_{H}>": [
        "{H} had a <thing>. ",
        "{H} found a <thing> in the <place>. ",
        "One day, <friend> gave {H} a <thing>. ",
        "{H} was <age>. {He} had a <thing>. ",
        "{H} had <number> <toy>s. ",
    ],
    # After each sentence the story goes on (3 in 4) or ends (1 in 4).
    "<body_{H}>": {"<sentence_{H}><body_{H}>": 3, "<ending_{H}>": 1},
    "<sentence_{H}>": {
        "{He} <did><when>. ": 3,
        "Then {he} <did><when>. ": 2,
        "<friend> <verb> the <thing><where><when>. ": 2,
        "{He} and <friend> <together><where><when>. ": 2,
        "<friend> gave {H} <number> <toy>s. ": 1,
        "<friend> was <feeling>. ": 1,
        "{He} felt <feeling>. ": 1,
        '<friend> said, "<said_{H}>" ': 2,
        "The <animal> <animal_did><where>. ": 1,
        "It was <weather>. ": 1,
        "There were <number> <animal>s in the <place>. ": 1,
    },
    "<said_{H}>": [
        "Can I play with your <toy>, {H}?",
        "I like your <toy>!",
        "Let us go to the <place>!",
        "I am <feeling>.",
        "Do you want some <food>?",
        "I have <number> <toy>s.",
        "Hello, {H}!",
    ],
    "<ending_{H}>": [
        "In the end, {he} was <feeling>.\n\n",
        "That night, {he} dreamed of the <place>.\n\n",
        "{He} went home.\n\n",
        "The end.\n\n",
    ],
}

_DID = [
    "gave it to <friend>",
    "showed it to <friend>",
    "<verb> the <thing><where>",
    "played with it<where>",
    "took it to the <place>",
    "hid it under the <spot>",
    "ate <food> with <friend>",
    "went to the <place> with <friend>",
    "ran to the <place>",
    "found <number> coins<where>",
]


def _labelled_rules() -> RawGrammar:
    """Single labelled sentences for chapter 5 (see ``generate_labelled``)."""
    return {
        "<person>": list(HEROES),
        "<positive>": [
            "<person> loved the <thing>.",
            "<person> liked the <thing> a lot.",
            "The <thing> was <good>.",
            "<person> was <glad>.",
            "<person> did not feel <unhappy>.",
            "What a <good> <toy>!",
        ],
        "<negative>": [
            "<person> hated the <thing>.",
            "<person> did not like the <thing>.",
            "The <thing> was <bad>.",
            "<person> was <unhappy>.",
            "<person> did not feel <glad>.",
            "What a <bad> <toy>!",
        ],
        "<good>": "great lovely nice perfect wonderful beautiful fun".split(),
        "<bad>": "bad broken boring dirty terrible horrible silly".split(),
        "<glad>": "happy glad calm proud excited cheerful".split(),
        "<unhappy>": "sad angry scared bored upset lonely".split(),
        "<topic_weather>": [
            "It was <weather>.",
            "It was <weather> in the <place>.",
            "The sky was <sky>.",
            "It rained<when>.",
            "The wind blew<when>.",
        ],
        "<sky>": "blue gray dark clear cloudy".split(),
        "<topic_animals>": [
            "The <animal> <animal_did><where>.",
            "There were <number> <animal>s in the <place>.",
            "<person> fed the <animal>.",
            "<friend> saw a <animal><where>.",
        ],
        "<topic_food>": [
            "<person> ate <food><where>.",
            "<person> cooked <food> for <friend>.",
            "Do you want some <food>?",
            "<friend> baked <food><when>.",
        ],
        "<topic_play>": [
            "<person> played with a <thing>.",
            "<person> and <friend> <together><where>.",
            "<person> threw the <toy> to <friend>.",
            "<friend> won the game.",
        ],
        "<ner>": [
            "<person> went to <city> with <friend>.",
            "<person> bought a <toy> in <city>.",
            "In <city>, <person> met <friend>.",
            "<person> gave <friend> a <toy>.",
            "<friend> lives in <city>.",
            "<person> sent a <toy> from <city> to <friend>.",
        ],
        "<city>": [
            "Paris",
            "London",
            "Berlin",
            "Rome",
            "Tokyo",
            "Madrid",
            "Cairo",
            "Lima",
            "New York",
            "Cape Town",
            "Hong Kong",
            "San Francisco",
            "Rio de Janeiro",
        ],
    }


def english_rules() -> RawGrammar:
    """The English story grammar as templates (a fresh copy each call). Taught in chapter 1."""
    g = _shared_rules()
    for hero, gender in HEROES.items():
        g.update(fill_templates(_HERO_RULES, {"H": hero, **_PRONOUNS[gender]}))
    g["<did>"] = list(_DID)
    g.update(_labelled_rules())
    return g
