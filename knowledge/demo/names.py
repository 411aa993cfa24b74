"""People and titles by language for generated items: invented names for creators, hosts,
authors and characters, and original-language titles for non-English items.

`LANGUAGES` also sets how often each language is drawn: mostly English, with French,
Spanish and Japanese well represented so that language filters have real answers.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(";") if part.strip())


@dataclass(frozen=True)
class Language:
    """code: ISO 639-1; name: as an English adjective ("French"); weight: share of generated items."""

    code: str
    name: str
    weight: float
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    titles: tuple[str, ...]  # original-language titles, each used at most once

    def person(self, rng: random.Random) -> str:
        return f"{rng.choice(self.first_names)} {rng.choice(self.last_names)}"


LANGUAGES: tuple[Language, ...] = (
    Language(
        "en", "English", 0.66,
        _split("Maya; Daniel; Priya; Tom; Grace; Owen; Aisha; Liam; Hannah; Marcus; Ruth; Ethan; Chloe; Samuel; "
               "Nadia; Isaac; Erin; Felix; Leah; Victor; Joanna; Callum; Imani; Rosa; Declan; Megan"),
        _split("Chen; Okafor; Patel; Hughes; Brennan; Whitaker; Adeyemi; Lindqvist; Harper; Moss; Delgado; Novak; "
               "Sutherland; Quinn; Abbott; Kaur; Fleming; Osei; Marsh; Holloway; Reyes; Ashworth; Byrne; Kowalski"),
        (),
    ),
    Language(
        "fr", "French", 0.09,
        _split("Camille; Julien; Léa; Mathieu; Inès; Antoine; Chloé; Hugo; Manon; Théo; Élodie; Karim; Margaux"),
        _split("Lefèvre; Moreau; Girard; Benali; Rousseau; Fontaine; Caron; Mercier; Dupuis; Lambert; Marchand"),
        _split("La Nuit tombe; Le Dernier Été; Les Enfants du port; Sous la surface; La Maison d'en face; "
               "Un hiver à Lyon; Le Silence des autres; Les Jours heureux; La Ligne d'horizon; Le Goût du sel; "
               "Après la pluie; Les Ombres blanches; Le Temps d'un voyage; La Saison des pluies; Rue des Lilas; "
               "Le Chant du vent; Les Années légères; La Dernière Lettre; Au bout du quai; Le Retour de Claire"),
    ),
    Language(
        "es", "Spanish", 0.08,
        _split("Lucía; Javier; Carmen; Diego; Sofía; Mateo; Valentina; Andrés; Elena; Pablo; Marta; Rodrigo"),
        _split("García; Martínez; Herrera; Navarro; Castillo; Romero; Ortega; Vidal; Serrano; Iglesias; Fuentes"),
        _split("La última noche; El silencio del mar; Los hijos del viento; Tierra quemada; Bajo la superficie; "
               "El verano que vivimos; Calle de los naranjos; La casa de al lado; Todo lo que queda; "
               "Mientras dure el invierno; El camino de vuelta; Ojos de sal; La frontera; Días de lluvia; "
               "El último tren; Nadie sabe nada; Las cartas perdidas; Cielo abierto"),
    ),
    Language(
        "ja", "Japanese", 0.07,
        _split("Haruto; Yui; Sota; Aoi; Ren; Hina; Daiki; Sakura; Kenji; Mei; Takumi; Yuna"),
        _split("Sato; Tanaka; Watanabe; Ito; Yamamoto; Nakamura; Kobayashi; Kato; Yoshida; Mori; Ishikawa"),
        _split("夏の記憶; 東京の夜; 風の声; 光の街; 最後の手紙; 遠い空; 春の嵐; 夜明け前; 星の降る町; 青い海; "
               "静かな森; 父の背中; 小さな家; 冬の旅; 月の庭; 白い道; 赤い傘; 帰り道"),
    ),
    Language(
        "de", "German", 0.04,
        _split("Lukas; Anna; Jonas; Lena; Felix; Marie; Paul; Sophie; Moritz; Clara"),
        _split("Müller; Schneider; Becker; Hoffmann; Wagner; Keller; Brandt; Vogel; Krüger"),
        _split("Der letzte Sommer; Die Stille; Nachtzug; Unter Wasser; Das Erbe; Die Grenze; Zwischen den Jahren; "
               "Das Haus am See; Morgenrot; Funkstille"),
    ),
    Language(
        "ko", "Korean", 0.03,
        _split("Min-jun; Seo-yeon; Ji-ho; Ha-eun; Do-yun; Su-ah; Jae-won; Ye-jin"),
        _split("Kim; Lee; Park; Choi; Jung; Kang; Yoon; Han"),
        _split("봄날; 바다의 기억; 서울의 밤; 마지막 편지; 우리의 여름; 작은 집; 푸른 하늘; 겨울 여행; 길 위에서; 비 오는 날"),
    ),
    Language(
        "it", "Italian", 0.03,
        _split("Giulia; Marco; Francesca; Luca; Chiara; Matteo; Elisa; Davide"),
        _split("Rossi; Bianchi; Esposito; Ricci; Marino; Greco; Conti; Galli"),
        _split("L'ultima estate; Il silenzio; La strada di casa; Le notti di Torino; Il mare d'inverno; "
               "Tutto il tempo; La casa sul lago; Gli anni leggeri"),
    ),
)
LANGUAGE_BY_CODE: dict[str, Language] = {lang.code: lang for lang in LANGUAGES}


def pick_language(rng: random.Random, allowed: tuple[str, ...] | None = None) -> Language:
    pool = [lang for lang in LANGUAGES if allowed is None or lang.code in allowed]
    return rng.choices(pool, weights=[lang.weight for lang in pool])[0]


def people(rng: random.Random, language: Language, count: int) -> list[str]:
    """`count` distinct invented names in `language` (names of the person's own language)."""
    chosen: list[str] = []
    while len(chosen) < count:
        name = language.person(rng)
        if name not in chosen:
            chosen.append(name)
    return chosen
