"""Sentence templates for generated catalog descriptions, per item type (syntax: `grammar.py`).

A description is one opening sentence, two or three body sentences in shuffled order and,
usually, a closing sentence. Slots bound for every item: {title} {creator} {place} {tone}
{minutes} {year}; non-fiction adds {phrase} {sight} {people} {question} (from a `Topic`),
fiction adds {lead} {setting} {goal} {turn} {texture} {genre_noun} {cast_lead} {cast_pair}
{cast_support} (from a `Premise`); series add {seasons} ("three seasons"), {episodes} and, for docuseries, {parts}.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Templates:
    opening: tuple[str, ...]
    body: tuple[str, ...]
    closing: tuple[str, ...]


DOCUMENTARY = Templates(
    opening=(
        "{title} is a feature documentary about {phrase}, [directed|made] by {creator}.",
        "In this [patient|intimate|urgent|sweeping|clear-eyed] documentary, {creator} follows {people} "
        "[across|through] {place} to [understand|get to grips with|make sense of] {phrase}.",
        "[Filmed|Shot] over {span} in {place}, {title} [looks at|confronts|examines] {phrase} "
        "through the eyes of {people}.",
        "A documentary [portrait|investigation|journey] into {phrase}, told by the {people} who know it best.",
        "{creator}'s {tone} documentary [asks|sets out to discover] {question}.",
    ),
    body=(
        "The camera [visits|lingers on|keeps returning to] {sight}.",
        "[Along the way|On the journey|Between interviews] it shows {sight} and {sight}.",
        "It asks {question}, and lets {people} [answer in their own words|argue it out].",
        "[Archive footage|Rare archive film|Home movies] and conversations with {people} [fill in the history|"
        "give the story its depth].",
        "{creator} [avoids easy answers|keeps the narration sparse|lets the images speak], and the result is "
        "[quietly powerful|gripping|unsettling|surprisingly hopeful].",
        "[Its most striking sequence|The most memorable scene] [shows|captures] {sight}.",
        "[Without a narrator|With a restrained voice-over], it [pieces together|traces] {question}.",
    ),
    closing=(
        "[A hopeful|A sobering|An urgent|A beautiful|A rigorous] film about {phrase}.",
        "It premiered at [a festival in {festival}|the {festival} film festival] [before reaching streaming|"
        "and later aired on public television].",
        "[Essential|Rewarding] viewing for anyone curious about {phrase}.",
    ),
)

DOCUSERIES = Templates(
    opening=(
        "{title} is a {parts}-part documentary series about {phrase}, [created|presented] by {creator}.",
        "In this documentary series, {creator} travels [across|through] {place} to [explore|investigate] {phrase}.",
        "Each episode of this {tone} docuseries [takes on|tackles] a different side of {phrase}.",
    ),
    body=DOCUMENTARY.body,
    closing=(
        "Over {episodes} episodes, it [meets|listens to] {people}.",
        "[Binge-worthy|Absorbing] television for anyone curious about {phrase}.",
    ),
)

PODCAST = Templates(
    opening=(
        "{title} is a [weekly|fortnightly|daily|monthly] podcast about {phrase}, hosted by {creator}.",
        "Each [week|episode], {creator} [sits down with|talks to|calls up] {people} to [dig into|unpick|"
        "make sense of] {phrase}.",
        "[A narrative|An interview|A conversational|A panel] podcast from {creator} on {phrase}.",
        "Hosted by {creator}, {title} [asks|tries to answer] {question}.",
    ),
    body=(
        "Recent episodes [cover|have covered] {sight}, and {question}.",
        "Guests range from {people} to {people}.",
        "[The show asks|One running thread is] {question}.",
        "[Expect|There are] [long conversations|short explainers|listener questions] and a "
        "[regular segment on|monthly deep-dive into] {phrase}.",
        "[A recent episode|One favourite episode] [went to|described] {sight}.",
        "The tone is {tone}, [never preachy|with plenty of humour|but always precise].",
    ),
    closing=(
        "New episodes [arrive|come out] every {weekday}; most run about {minutes} minutes.",
        "[Good company for|Made for] [a commute|a long walk|the washing-up|a Sunday morning].",
        "[A first-rate|A friendly|A smart] listen for anyone interested in {phrase}.",
    ),
)

ARTICLE = Templates(
    opening=(
        "[An explainer|A long read|An essay|A reported feature|An interview|A practical guide|An opinion piece] "
        "on {phrase} by {creator}.",
        "In this [long read|feature|essay|column], {creator} [asks|investigates] {question}.",
        "{creator} [travels to|reports from|spends a month in] {place} to [understand|look closely at] {phrase}.",
        "[Why does it matter|What is really going on|Where do we go from here]? {creator} [looks at|writes about] "
        "{phrase}.",
    ),
    body=(
        "The piece [opens with|begins at|starts from] {sight}.",
        "[Drawing on|Built on] interviews with {people}, it [explains|lays out|weighs up] {question}.",
        "[Photographs|Maps and charts] [accompany the text, showing|show] {sight}.",
        "[The argument|The reporting] is {tone}, [and it names names|and careful with the numbers|"
        "and generous to its critics].",
        "[Along the way it|It also] [asks|considers] {question}.",
    ),
    closing=(
        "[A useful|A clear|A thoughtful|A provocative] read for anyone [curious about|following] {phrase}.",
        "[Reading time is about|It takes about] {minutes} minutes.",
        "[First published|Published] in {year}.",
    ),
)

SERIES = Templates(
    opening=(
        "{title} follows {lead} as they [try to|set out to|scramble to] {goal}.",
        "When {turn}, {lead} in {setting} must {goal}.",
        "[Set in|Unfolding in] {setting}, this {tone} {genre_noun} series [centres on|is about] {lead}.",
        "{title} is a {tone} {genre_noun} series about {lead} [trying to|determined to] {goal}.",
    ),
    body=(
        "[Over {seasons}|Across {episodes} episodes], the show [mixes|balances] {texture}.",
        "[The story unfolds in|It is set in] {setting}.",
        "[Expect|It is full of] {texture}.",
        "[Things get complicated|Trouble starts|The real story begins] when {turn}.",
        "{cast_pair} [star|lead the cast], [with|alongside] {cast_support} as "
        "[a rival|a best friend|the boss|a mentor].",
        "Created by {creator}, it [ran for|has run for] {seasons}.",
        "[Each episode|Every week] [brings|adds] {texture}.",
    ),
    closing=(
        "[Cult-favourite|Binge-worthy|Quietly brilliant|Crowd-pleasing|Addictive] {genre_noun} television [for fans of|"
        "for anyone who loves] {texture}.",
        "[It premiered in|First broadcast in] {year}.",
        "[Critics|Viewers] [praised|loved] its {tone} tone.",
    ),
)

FILM = Templates(
    opening=(
        "{title} is a {tone} {genre_noun} [film|feature] [written and directed|directed] by {creator}.",
        "In {creator}'s {tone} {genre_noun} film, {lead} in {setting} must {goal}.",
        "When {turn}, {lead} [must|will do anything to] {goal}.",
        "[Set in|Unfolding in] {setting}, {title} [follows|tells the story of] {lead}.",
    ),
    body=(
        "[The trouble starts|Everything changes] when {turn}.",
        "[Expect|The film is full of] {texture}.",
        "{cast_lead} [stars|leads the cast], with {cast_support} in a "
        "[scene-stealing|memorable|quiet] supporting role.",
        "[Shot on location in|Filmed in] {place}, it [runs|clocks in at] {minutes} minutes.",
        "{creator} [keeps the pace brisk|lets scenes breathe|never lets the tension drop].",
    ),
    closing=(
        "[A rewarding|An unusual|A crowd-pleasing|A {tone}] {genre_noun} film about {texture}.",
        "[It premiered|It opened] in {year} to [strong reviews|mixed reviews|a cult following].",
    ),
)

# Items described in French or Spanish (podcasts and articles on topics that have translations).
PODCAST_FR = Templates(
    opening=("{title} est un podcast [hebdomadaire|mensuel] sur {phrase}, animé par {creator}.",
             "Chaque semaine, {creator} [reçoit des invités|donne la parole à des spécialistes] sur {phrase}."),
    body=("Au programme\u00a0: des entretiens, des reportages et des questions d'auditeurs sur {phrase}.",
          "[Les invités|Les spécialistes] reviennent sur {phrase}, sans jargon."),
    closing=("Les épisodes durent environ {minutes} minutes.",),
)
PODCAST_ES = Templates(
    opening=("{title} es un podcast [semanal|mensual] sobre {phrase}, presentado por {creator}.",
             "Cada semana, {creator} conversa con [invitados|especialistas] sobre {phrase}."),
    body=("En cada episodio hay entrevistas, reportajes y preguntas de los oyentes sobre {phrase}.",
          "[Los invitados|Los especialistas] reflexionan sobre {phrase}, sin tecnicismos."),
    closing=("Los episodios duran unos {minutes} minutos.",),
)
ARTICLE_FR = Templates(
    opening=("[Une enquête|Un long article|Un entretien|Un guide pratique] sur {phrase}, signé {creator}.",),
    body=("Le texte fait le point sur {phrase}, [chiffres à l'appui|à partir de témoignages].",
          "Le texte revient aussi sur {phrase}."),
    closing=("Temps de lecture\u00a0: environ {minutes} minutes.",),
)
ARTICLE_ES = Templates(
    opening=("[Un reportaje|Una entrevista|Un ensayo|Una guía práctica] sobre {phrase}, firmado por {creator}.",),
    body=("El texto analiza {phrase} [con datos y testimonios|a partir de entrevistas].",
          "También repasa {phrase}."),
    closing=("Tiempo de lectura: unos {minutes} minutos.",),
)
TRANSLATED: dict[tuple[str, str], Templates] = {
    ("podcast", "fr"): PODCAST_FR, ("podcast", "es"): PODCAST_ES,
    ("article", "fr"): ARTICLE_FR, ("article", "es"): ARTICLE_ES,
}

# Titles for non-fiction items in French and Spanish, built from the topic's translated phrase.
TRANSLATED_TITLES: dict[str, tuple[str, ...]] = {
    "fr": ("Comprendre {phrase}", "Tout savoir sur {phrase}", "Au cœur de {phrase}", "Le point sur {phrase}"),
    "es": ("Todo sobre {phrase}", "Apuntes sobre {phrase}", "Preguntas sobre {phrase}", "Claves: {phrase}"),
}

# How a secondary topic enters a non-fiction description.
SECONDARY = (
    "[It also touches on|A final chapter turns to|Part of it is devoted to] {phrase2}.",
    "[Before long|Later on], the link with {phrase2} [comes into view|becomes hard to ignore].",
)

# How a non-English item's English description says what language it is in, per medium.
LANGUAGE_NOTES: dict[str, str] = {
    "screen": "[In {language} with English subtitles.|{language}-language, with subtitles.|Presented in {language}.]",
    "podcast": "[In {language}.|Recorded in {language}.|A {language}-language show.]",
    "article": "[Written in {language}.|In {language}.|A {language}-language piece.]",
}

TONES: dict[str, tuple[str, ...]] = {
    "comedy": ("deadpan", "sharp", "warm-hearted", "absurd", "gently funny", "biting"),
    "drama": ("tense", "moving", "slow-burning", "intimate", "unflinching", "tender"),
    "thriller": ("taut", "paranoid", "twisty", "nerve-shredding"),
    "horror": ("creepy", "unsettling", "terrifying", "atmospheric"),
    "science fiction": ("cerebral", "eerie", "ambitious", "thought-provoking"),
    "crime": ("gritty", "tense", "hard-boiled", "meticulous"),
    "nonfiction": ("careful", "compassionate", "urgent", "lucid", "playful", "rigorous", "personal"),
}
# A premise's first genre as the word before "film" or "series".
GENRE_NOUNS: dict[str, str] = {
    "comedy": "comedy", "drama": "drama", "thriller": "thriller", "horror": "horror",
    "science fiction": "science-fiction", "crime": "crime", "mystery": "mystery", "romance": "romantic",
    "fantasy": "fantasy", "western": "western", "war": "war", "animation": "animated",
    "sports": "sports", "music": "music", "action": "action",
}
FESTIVALS = ("Sundance", "Berlin", "Toronto", "Sheffield", "Copenhagen", "Busan", "San Sebastián", "Amsterdam")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SPANS = ("two years", "three years", "a single summer", "a decade", "eighteen months", "four seasons")
