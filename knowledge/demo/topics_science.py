"""Non-fiction topics from science, nature, technology and health (see `topics.Topic`).

The "climate change" topic never uses the words "climate change" or "climate": its items say
"global warming", "rising sea levels", "melting glaciers". A retriever that only matches
words misses them; that is the point of the synonym questions in the golden set.
"""
from __future__ import annotations

from .topics import Topic, topic

SCIENCE_TOPICS: tuple[Topic, ...] = (
    topic(
        "climate change", "science; nature", weight=2.5, earliest=1985,
        related="renewable energy; ocean life; volcanoes",
        phrases="global warming; rising sea levels; melting glaciers; a warming planet; record-breaking heatwaves; "
                "carbon emissions and what they do to the atmosphere; thawing permafrost; the greenhouse effect",
        sights="a glacier in the Swiss Alps that has lost half its length in a lifetime; "
               "Pacific atolls where high tides now flood the graveyards; "
               "Siberian permafrost slumping into craters; wildfire smoke drifting over Canadian towns; "
               "ice cores drilled from the Greenland ice sheet; drought-cracked reservoirs in southern Spain",
        people="glaciologists; island farmers; fire crews; ice-core scientists; coastal engineers; "
               "meteorologists",
        questions="how fast the great ice sheets are shrinking; why summers keep breaking temperature records; "
                  "how long low-lying cities can hold back the sea; what a world two degrees warmer would feel like",
        places="Greenland; the Maldives; Bangladesh; the Swiss Alps; Svalbard; the Australian outback",
        titles="Thin Ice; High Water; Meltwater; The Last Glacier; Heat Dome; Tipping Point; Rising Tide; "
               "Ice Memory; Warming Stripes; Two Degrees",
        fr="le réchauffement climatique; la fonte des glaciers; la montée des eaux; les canicules à répétition",
        es="el calentamiento global; el deshielo de los glaciares; la subida del nivel del mar; "
           "las olas de calor cada vez más frecuentes",
    ),
    topic(
        "ocean life", "nature; science", related="climate change; wildlife",
        phrases="life beneath the waves; coral reefs; whales and dolphins; the deep sea; kelp forests; "
                "sharks and the seas they patrol",
        sights="humpback whales singing off Tonga; a hydrothermal vent four kilometres down; "
               "a kelp forest off California swaying in the swell; a coral spawning night on the Great Barrier Reef; "
               "octopuses building dens from shells",
        people="marine biologists; free divers; submarine pilots; reef rangers; fishing families",
        questions="how creatures survive where sunlight never reaches; why whales sing; "
                  "what a healthy reef needs to recover; how octopuses learn",
        places="the Great Barrier Reef; the Mariana Trench; the Sea of Cortez; Tonga; the Azores",
        titles="Blue Deep; The Reef; Whale Song; Abyss; Saltwater; Tideline; Open Ocean",
    ),
    topic(
        "space exploration", "science; technology", related="astronomy; robotics", earliest=1975,
        phrases="human spaceflight; missions to Mars; the race to the Moon; rockets and the people who build them; "
                "life aboard a space station",
        sights="a rover creeping across a Martian crater; astronauts training underwater in Houston; "
               "a rocket engine test that shakes the desert; the Apollo mission control room; "
               "a capsule splashing down in the Pacific",
        people="astronauts; rocket engineers; mission controllers; planetary scientists",
        questions="what it would take to keep people alive on Mars; why we went back to the Moon; "
                  "how a spacecraft lands itself millions of kilometres away",
        places="Cape Canaveral; Baikonur; the Moon; Mars; Houston",
        titles="Liftoff; Red Planet; Escape Velocity; Moonshot; Orbit; Countdown; Far Side",
        fr="la conquête spatiale; les missions vers Mars; la vie à bord d'une station spatiale",
        es="la exploración espacial; las misiones a Marte; la vida en una estación espacial",
    ),
    topic(
        "astronomy", "science", related="space exploration",
        phrases="the night sky; black holes; distant galaxies; the birth and death of stars; exoplanets",
        sights="a radio telescope array on a high desert plateau; the first image of a black hole's shadow; "
               "amateur stargazers under the darkest skies in Europe; a supernova caught in real time",
        people="astronomers; astrophysicists; amateur stargazers; telescope builders",
        questions="what happens at the edge of a black hole; whether we are alone in the universe; "
                  "how light from the first galaxies reaches us",
        places="the Atacama Desert; Mauna Kea; La Palma; the Canary Islands",
        titles="Starlight; Event Horizon; Deep Field; Dark Sky; Stardust; Cosmic Dawn",
    ),
    topic(
        "artificial intelligence", "technology; science", related="robotics; cybersecurity", weight=1.5, earliest=2012,
        phrases="artificial intelligence; machine learning; neural networks; chatbots and large language models; "
                "algorithms that learn from data; the automation of everyday decisions",
        sights="a data centre humming in the Oregon desert; a chess engine teaching itself overnight; "
               "a hospital trial of software that reads X-rays; volunteers labelling images for training data",
        people="machine learning researchers; data labellers; AI ethicists; software engineers",
        questions="whether machines can really understand language; who is accountable when an algorithm is wrong; "
                  "how neural networks learn from examples; what automation means for office jobs",
        places="San Francisco; London; Montreal; Shenzhen; Nairobi",
        titles="Thinking Machines; The Black Box; Training Data; Deep Learning; Ghost in the Code; Gradient Descent",
        fr="l'intelligence artificielle; les réseaux de neurones; les algorithmes qui apprennent",
        es="la inteligencia artificial; las redes neuronales; los algoritmos que aprenden",
    ),
    topic(
        "robotics", "technology; science", related="artificial intelligence; space exploration", earliest=1985,
        phrases="robots; robotics; walking machines; factory automation; robot helpers at home",
        sights="a warehouse where robots move shelves to workers; a robotic hand learning to fold laundry; "
               "a student robot competition in Tokyo; a surgical robot in an operating theatre",
        people="robotics engineers; factory workers; surgeons; student inventors",
        questions="why it is so hard to build a robot that walks; whether robots will care for the elderly; "
                  "how a machine learns to grip an egg without breaking it",
        places="Tokyo; Pittsburgh; Munich; Shenzhen",
        titles="Mechanical Hearts; Servo; Tin Men; The Gripper Problem; Moving Parts",
    ),
    topic(
        "renewable energy", "science; technology", related="climate change", earliest=1995,
        phrases="solar power; wind farms; clean energy; batteries that store the sun; the end of coal",
        sights="an offshore wind farm in the North Sea; a desert solar plant in Morocco; "
               "a former coal town retraining its miners; a battery factory in Nevada",
        people="wind turbine technicians; solar installers; grid engineers; former coal miners",
        questions="how a power grid copes when the wind drops; whether batteries can replace gas plants; "
                  "what happens to towns built on coal",
        places="the North Sea; Morocco; Nevada; Denmark; Chile",
        titles="Power Shift; Windward; Sun Harvest; The Grid; Charged",
    ),
    topic(
        "volcanoes", "nature; science", related="climate change",
        phrases="volcanoes; eruptions; lava flows; earthquakes and the restless earth",
        sights="a lava lake glowing in Ethiopia; Icelandic fissures opening near a fishing town; "
               "a seismograph trembling before an eruption; villages rebuilt on the slopes of Etna",
        people="volcanologists; villagers who live under the mountain; emergency planners",
        questions="whether eruptions can be predicted; why people farm on the slopes of active volcanoes; "
                  "how an ash cloud can ground every plane in Europe",
        places="Iceland; Mount Etna; Hawaii; Indonesia; the Afar region of Ethiopia",
        titles="Fire Mountain; Magma; Ring of Fire; Ashfall; The Restless Earth",
    ),
    topic(
        "dinosaurs", "science; history", related="archaeology",
        phrases="dinosaurs; fossils; the age of reptiles; the asteroid that ended the dinosaurs",
        sights="a Tyrannosaurus skeleton dug out of the Montana badlands; feathered fossils from China; "
               "a crater buried beneath the Yucatán; footprints on a Scottish shoreline",
        people="palaeontologists; fossil hunters; museum preparators",
        questions="how the dinosaurs died out; whether birds are living dinosaurs; how a fossil is dated",
        places="Montana; the Gobi Desert; Patagonia; the Isle of Skye",
        titles="Bones of the Earth; Jurassic Dawn; The Last Day of the Dinosaurs; Fossil Record",
    ),
    topic(
        "wildlife", "nature", related="birds; ocean life",
        phrases="wild animals; big cats; elephants and the savanna; animal migrations; endangered species",
        sights="a lioness teaching her cubs to hunt; wildebeest crossing the Mara River; "
               "snow leopards in the Himalaya; orangutans in a shrinking forest",
        people="wildlife rangers; camera operators; conservationists; trackers",
        questions="how animals find their way across a continent; whether rewilding can bring species back; "
                  "what it takes to film a snow leopard",
        places="the Serengeti; Borneo; the Himalaya; the Okavango Delta",
        titles="Wild Kingdom; The Long Migration; Savanna; Predators; Into the Wild Places",
    ),
    topic(
        "birds", "nature",
        phrases="birds; birdwatching; migrating birds; birdsong",
        sights="swallows gathering on the wires before migration; a puffin colony on a windswept cliff; "
               "hummingbirds feeding in a cloud forest; an urban peregrine nesting on a cathedral",
        people="birdwatchers; ornithologists; bird ringers",
        questions="how birds navigate thousands of kilometres; why some birds sing at dawn; "
                  "what cities do to bird life",
        places="Costa Rica; the Shetland Islands; the Camargue; Hokkaido",
        titles="Wingspan; Flight Paths; Dawn Chorus; Feather and Bone",
    ),
    topic(
        "sleep science", "science; health", related="mental health",
        phrases="sleep; insomnia; dreams; the body clock; why we need rest",
        sights="a sleep laboratory wired with sensors; night-shift nurses in a hospital; "
               "a teenager's brain scanned during a dream; astronauts sleeping in orbit",
        people="sleep researchers; insomniacs; shift workers; neurologists",
        questions="why we dream; what a sleepless week does to the brain; how to reset a broken body clock",
        places="Stanford; Zurich; Antarctica",
        titles="Lights Out; The Dreaming Brain; Night Shift; Counting Sheep; Circadian",
    ),
    topic(
        "public health", "health; science", related="mental health",
        phrases="pandemics; vaccines; infectious disease outbreaks; epidemics and how they spread",
        sights="a vaccine trial run from a field clinic; contact tracers working the phones; "
               "a laboratory sequencing a new virus overnight; the 1918 influenza wards",
        people="epidemiologists; nurses; vaccine researchers; community health workers",
        questions="how an outbreak becomes a pandemic; why vaccines take years to make; "
                  "what the last pandemic taught us about the next one",
        places="Geneva; West Africa; Wuhan; Atlanta",
        titles="Outbreak; Patient Zero; The Long Shot; Contagion Diaries; Herd",
    ),
    topic(
        "mental health", "health; society", related="sleep science; public health",
        phrases="mental health; anxiety; depression; burnout; therapy and recovery",
        sights="a crisis line staffed through the night; a group therapy circle; "
               "a football club that runs walking groups for men; a student counselling service at exam time",
        people="therapists; psychiatrists; peer supporters; people in recovery",
        questions="why burnout is so common; how talking therapies work; what helps during a panic attack",
        places="Manchester; Melbourne; Toronto",
        titles="Heavy Weather; Still Here; The Quiet Room; Unburdened; Head Space",
        fr="la santé mentale; l'anxiété; l'épuisement professionnel",
        es="la salud mental; la ansiedad; el agotamiento laboral",
    ),
    topic(
        "cybersecurity", "technology", related="artificial intelligence", earliest=1998,
        phrases="hacking; ransomware; data breaches; online privacy; cyber attacks",
        sights="a hospital taken offline by ransomware; a security team tracing an intruder at 3 a.m.; "
               "a hacker conference in Las Vegas; a bank's vault of servers",
        people="security researchers; ethical hackers; fraud investigators",
        questions="how ransomware gangs choose their victims; whether passwords are finished; "
                  "what happens to stolen data",
        places="Tallinn; Las Vegas; Tel Aviv; Singapore",
        titles="Zero Day; Breach; Backdoor; The Phishing Net; Root Access",
    ),
    topic(
        "archaeology", "history; science", related="ancient rome; dinosaurs",
        phrases="archaeology; lost cities; ancient tombs; excavations",
        sights="a shipwreck raised from the Baltic; a tomb opened in the Valley of the Kings; "
               "lidar revealing Maya cities under the jungle; a Viking hoard found by a metal detectorist",
        people="archaeologists; divers; conservators; metal detectorists",
        questions="how lost cities are found from the air; who built the first temples; "
                  "what a rubbish heap says about a civilisation",
        places="Egypt; Guatemala; Orkney; Turkey",
        titles="Under the Sand; The Dig; Buried; Lost Cities; Strata",
    ),
    topic(
        "beekeeping", "nature; food",
        phrases="bees; beekeeping; honey; pollinators",
        sights="a rooftop hive in Paris; a queen bee's first flight; almond orchards waiting for hired hives; "
               "wild bees nesting in a hedgerow",
        people="beekeepers; entomologists; orchard growers",
        questions="why bee colonies collapse; how a hive decides where to swarm; what honey tastes of in a city",
        places="Paris; California's Central Valley; Slovenia",
        titles="The Hive; Queen and Colony; Liquid Gold; Pollen",
    ),
)
