"""Four well-known real titles, described in our own words, that "similar to" questions can
name: "comedies like Silicon Valley", "shows like The Office", "podcasts like Serial",
"documentaries like Planet Earth". Their facts (years, creators, cast) are public record;
their `topics` tie them to the generated items they resemble.
"""
from __future__ import annotations

from typing import Any

ANCHORS: tuple[dict[str, Any], ...] = (
    {
        "title": "Silicon Valley", "type": "series", "year": 2014, "released": "2014-04-06",
        "genres": ["comedy"], "language": "en", "duration_min": 30, "rating": 8.5,
        "creators": ["Mike Judge", "John Altschuler", "Dave Krinsky"],
        "cast": ["Thomas Middleditch", "T.J. Miller", "Josh Brener", "Martin Starr", "Kumail Nanjiani", "Zach Woods"],
        "description": (
            "Silicon Valley is an HBO comedy series about Richard Hendricks, a shy programmer who writes a "
            "file-compression algorithm and turns it into a start-up called Pied Piper. Around him gather a "
            "house of misfit coders, an incubator owner living off one lucky investment, and investors who "
            "want the company on their terms. The show satirises the tech industry's grand mission statements, "
            "its lawsuits, its giant rivals and its obsession with funding rounds. It ran for six seasons."),
        "topics": ["tech start-up"], "seasons": 6, "episodes": 53, "source": "authored",
    },
    {
        "title": "The Office", "type": "series", "year": 2005, "released": "2005-03-24",
        "genres": ["comedy"], "language": "en", "duration_min": 22, "rating": 9.0,
        "creators": ["Greg Daniels"],
        "cast": ["Steve Carell", "Rainn Wilson", "John Krasinski", "Jenna Fischer"],
        "description": (
            "The Office is an American mockumentary sitcom set in the Scranton branch of the Dunder Mifflin "
            "paper company. A camera crew follows the staff through sales calls, pointless meetings and "
            "elaborate pranks, while regional manager Michael Scott tries very hard to be everyone's friend. "
            "Adapted from the British series by Ricky Gervais and Stephen Merchant, it ran on NBC for nine seasons."),
        "topics": ["workplace comedy"], "seasons": 9, "episodes": 201, "source": "authored",
    },
    {
        "title": "Serial", "type": "podcast", "year": 2014, "released": "2014-10-03",
        "genres": ["crime", "society"], "language": "en", "duration_min": 45,
        "creators": ["Sarah Koenig"],
        "description": (
            "Serial is an investigative journalism podcast hosted by Sarah Koenig. Its first season re-examines "
            "the 1999 killing of Baltimore County high-school student Hae Min Lee and the conviction of her "
            "former boyfriend, Adnan Syed, one episode at a time: phone records, alibis, a key witness and "
            "the doubts that never quite go away. It helped make true crime one of podcasting's biggest genres."),
        "topics": ["true crime"], "source": "authored",
    },
    {
        "title": "Planet Earth", "type": "documentary", "year": 2006, "released": "2006-03-05",
        "genres": ["documentary", "nature"], "language": "en", "duration_min": 50, "rating": 9.4,
        "creators": ["Alastair Fothergill"],
        "description": (
            "Planet Earth is a BBC nature documentary series narrated by David Attenborough. Each of its eleven "
            "episodes visits one kind of habitat, from mountains and deserts to jungles, caves and the open "
            "ocean, and films the animals that live there: snow leopards, hunting wolves, birds of paradise "
            "and great white sharks. Its aerial photography set a new standard for wildlife films."),
        "topics": ["wildlife", "ocean life"], "seasons": 1, "episodes": 11, "source": "authored",
    },
)


def anchor_items() -> list[dict[str, Any]]:
    return [dict(item) for item in ANCHORS]
