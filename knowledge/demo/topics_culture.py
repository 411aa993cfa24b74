"""Non-fiction topics from society, money, food, music, sport and history (see `topics.Topic`)."""
from __future__ import annotations

from .topics import Topic, topic

CULTURE_TOPICS: tuple[Topic, ...] = (
    topic(
        "tech start-ups", "business; technology", related="artificial intelligence; personal finance", earliest=1995,
        phrases="tech start-ups; founders chasing venture capital; the start-up economy; young companies that "
                "promise to change the world",
        sights="a pitch day in front of investors; a garage where a now-famous company began; "
               "a start-up running out of money two weeks before launch; a co-working space at midnight",
        people="founders; venture capitalists; early employees; angel investors",
        questions="why most start-ups fail; what investors look for in a pitch; how a company grows from ten "
                  "people to ten thousand",
        places="Silicon Valley; Berlin; Bangalore; Tel Aviv",
        titles="Burn Rate; Seed Money; The Pivot; Unicorns; Growth at All Costs; Demo Day",
    ),
    topic(
        "personal finance", "business; education", related="cryptocurrency",
        phrases="personal finance; budgeting; saving for retirement; paying off debt; index funds; "
                "money habits",
        sights="a family spreadsheet of monthly bills; a pension statement nobody reads; "
               "a debt counsellor's office in January; a first-time buyer's mortgage meeting",
        people="financial planners; debt counsellors; young savers; retirees",
        questions="how much to save for retirement; whether to pay off debt or invest first; "
                  "why compound interest matters",
        places="London; Toronto; Sydney",
        titles="Money Matters; The Budget; Rainy Day Fund; Net Worth; Pocket Money",
        fr="les finances personnelles; l'épargne; le budget du foyer",
        es="las finanzas personales; el ahorro; el presupuesto familiar",
    ),
    topic(
        "cryptocurrency", "business; technology", related="personal finance", earliest=2013,
        phrases="cryptocurrency; bitcoin; blockchains; digital tokens; crypto trading",
        sights="a bitcoin mine in an old power station; a crypto exchange collapsing overnight; "
               "a town that accepts digital coins for coffee",
        people="crypto traders; miners; regulators; early adopters",
        questions="what gives a digital coin its value; whether blockchains are more than hype; "
                  "how exchanges lose customers' money",
        places="El Salvador; Reykjavik; Hong Kong",
        titles="Proof of Work; Hash Power; Digital Gold; The Ledger",
    ),
    topic(
        "home cooking", "food", related="baking; coffee", weight=1.3,
        phrases="home cooking; family recipes; cooking on a budget; regional cuisine; weeknight dinners",
        sights="a grandmother's kitchen in Oaxaca; a market in Palermo at dawn; "
               "a pot of stock simmering all afternoon; a street-food stall in Bangkok",
        people="home cooks; chefs; market traders; grandmothers",
        questions="what makes a family recipe survive generations; how to cook well with little money; "
                  "why some dishes taste of a place",
        places="Oaxaca; Sicily; Bangkok; Lyon; Kerala",
        titles="Salt and Smoke; The Family Table; Slow Food; Kitchen Stories; Second Helpings",
        fr="la cuisine familiale; les recettes de grand-mère; la cuisine de saison",
        es="la cocina casera; las recetas familiares; la cocina de temporada",
    ),
    topic(
        "baking", "food", related="home cooking",
        phrases="baking; bread; sourdough; pastry; cakes",
        sights="a sourdough starter older than the baker; a Viennese pastry kitchen before dawn; "
               "a village bakery firing a wood oven",
        people="bakers; pastry chefs; millers",
        questions="why sourdough rises; what makes a croissant flaky; how flour is milled",
        places="Vienna; San Francisco; Normandy",
        titles="Rise; Knead; Crumb; The Bread Line",
    ),
    topic(
        "coffee", "food; business", related="home cooking",
        phrases="coffee; the coffee trade; espresso culture; coffee farming",
        sights="coffee cherries picked on an Ethiopian hillside; a roastery in Melbourne; "
               "an espresso bar in Naples",
        people="coffee farmers; roasters; baristas",
        questions="how a coffee bean travels from farm to cup; why coffee prices swing; "
                  "what makes an espresso good",
        places="Ethiopia; Colombia; Naples; Melbourne",
        titles="Black Gold; The Daily Grind; First Crack; Single Origin",
    ),
    topic(
        "wine", "food",
        phrases="wine; winemaking; vineyards; the grape harvest",
        sights="a harvest in Burgundy; a cellar carved into chalk; a young winemaker in Georgia using clay jars",
        people="winemakers; sommeliers; grape pickers",
        questions="what terroir really means; how a vintage is judged; why wine is aged in oak",
        places="Burgundy; Rioja; Georgia; the Barossa Valley",
        titles="Vintage; Terroir; The Harvest; Cellar Door",
    ),
    topic(
        "jazz", "music", related="classical music; hip-hop",
        phrases="jazz; bebop; jazz musicians; improvisation; big bands",
        sights="a late-night set in a Harlem club; a trumpet lesson in New Orleans; "
               "rare recordings from a 1950s session; a jazz festival in Montreux",
        people="jazz musicians; saxophonists; club owners; record collectors",
        questions="how musicians improvise together; why bebop changed everything; "
                  "what jazz owes to the blues",
        places="New Orleans; Harlem; Paris; Montreux",
        titles="Blue Note; After Hours; Swing Time; The Session; Late Set",
        fr="le jazz; les musiciens de jazz; l'improvisation",
        es="el jazz; los músicos de jazz; la improvisación",
    ),
    topic(
        "classical music", "music", related="jazz",
        phrases="classical music; orchestras; opera; composers",
        sights="an orchestra rehearsing a Mahler symphony; a violin maker's workshop in Cremona; "
               "a young pianist preparing for a competition",
        people="conductors; violinists; composers; opera singers",
        questions="what a conductor actually does; why some symphonies are rarely played; "
                  "how a violin gets its voice",
        places="Vienna; Cremona; Leipzig; Salzburg",
        titles="Opus; The Score; Fortissimo; Coda",
    ),
    topic(
        "hip-hop", "music", related="jazz", earliest=1985,
        phrases="hip-hop; rap; DJs and MCs; beat-making",
        sights="a block party in the Bronx in 1977; a producer building beats from old records; "
               "a rap battle in a Paris suburb",
        people="rappers; DJs; producers; breakdancers",
        questions="how hip-hop spread from the Bronx to the world; what sampling did to music; "
                  "why rap became the voice of a generation",
        places="the Bronx; Atlanta; Paris; Seoul",
        titles="Breakbeat; The Cypher; Mic Check; Block Party",
    ),
    topic(
        "football", "sports", related="running",
        phrases="football; soccer; the World Cup; football clubs and their fans; the beautiful game",
        sights="a derby day in Buenos Aires; a youth academy trial; a women's team playing in an empty stadium; "
               "a penalty shoot-out in a World Cup final",
        people="footballers; coaches; fans; scouts",
        questions="how a small club reaches the top; why penalties are so hard; what a club means to its town",
        places="Buenos Aires; Liverpool; Barcelona; Lagos",
        titles="Extra Time; The Beautiful Game; Matchday; Offside; Ninety Minutes",
        fr="le football; la Coupe du monde; les supporters",
        es="el fútbol; el Mundial; los aficionados",
    ),
    topic(
        "basketball", "sports",
        phrases="basketball; the NBA; streetball; college hoops",
        sights="a playground court in Queens; a draft night; a point guard's rehab after injury",
        people="basketball players; coaches; scouts",
        questions="how the three-point shot changed the game; what it takes to reach the NBA; "
                  "why some cities live and breathe the game",
        places="Queens; Chicago; Belgrade",
        titles="Full Court; Buzzer Beater; Fast Break; Nothing but Net",
    ),
    topic(
        "mountaineering", "sports; adventure", related="running",
        phrases="mountaineering; climbing; high-altitude expeditions; Everest and the big peaks",
        sights="a night push to the summit of K2; Sherpa guides fixing ropes; a storm trapping climbers on a ridge; "
               "a free solo on a granite wall",
        people="mountaineers; Sherpa guides; rescue pilots; rock climbers",
        questions="why climbers risk everything for a summit; how the body copes in the death zone; "
                  "who pays when a rescue goes wrong",
        places="the Everest region; the Karakoram; Patagonia; the Alps",
        titles="Summit; The Death Zone; Base Camp; Free Solo; Thin Air",
    ),
    topic(
        "running", "sports; health", related="mountaineering",
        phrases="running; marathons; ultramarathons; the science of endurance",
        sights="a marathon start line at dawn; a 100-mile race through the desert; a park run in the rain",
        people="marathon runners; coaches; sports scientists",
        questions="how far a human can run; why some runners never hit the wall; what a marathon does to the heart",
        places="Boston; Kenya's Rift Valley; the Sahara",
        titles="The Long Run; Mile Markers; Second Wind; Stride",
    ),
    topic(
        "true crime", "crime; society", weight=1.3,
        phrases="true crime; unsolved murders; cold cases; wrongful convictions; forensic investigation",
        sights="a cold case reopened after forty years; a DNA lab revisiting old evidence; "
               "a courtroom on the day of a retrial; an abandoned farmhouse where a family vanished",
        people="detectives; forensic scientists; defence lawyers; victims' families",
        questions="who really committed the crime; how an innocent person ends up in prison; "
                  "what new forensic science can prove decades later",
        places="a small town in Ohio; the Scottish Highlands; rural Australia",
        titles="Cold Case; Reasonable Doubt; The Missing Years; Evidence; Beyond the Tape",
        fr="les affaires criminelles non résolues; les enquêtes judiciaires; les erreurs judiciaires",
        es="los crímenes sin resolver; las investigaciones policiales; los errores judiciales",
    ),
    topic(
        "world war ii", "history; war",
        phrases="the Second World War; the D-Day landings; life on the home front; the war in the Pacific",
        sights="letters from a soldier found in an attic; the beaches of Normandy today; "
               "codebreakers at Bletchley Park; a bombed city rebuilt",
        people="veterans; historians; codebreakers; survivors",
        questions="how the war was won; what ordinary families lived through; how the codes were broken",
        places="Normandy; Stalingrad; Bletchley Park; Okinawa",
        titles="Home Front; The Longest Day; Codebreakers; Blitz; Letters from the Front",
    ),
    topic(
        "ancient rome", "history", related="archaeology",
        phrases="ancient Rome; the Roman Empire; gladiators; Roman emperors",
        sights="the ruins of Pompeii; a Roman road in Britain; the Colosseum at night; "
               "a mosaic uncovered in a vineyard",
        people="historians; archaeologists; classicists",
        questions="why the Roman Empire fell; how ordinary Romans lived; what gladiators really fought for",
        places="Rome; Pompeii; Hadrian's Wall; Carthage",
        titles="Empire of Stone; The Eternal City; Caesar's Shadow; All Roads",
    ),
    topic(
        "architecture", "design; history",
        phrases="architecture; skyscrapers; urban design; buildings and the people who design them",
        sights="a brutalist estate facing demolition; a timber skyscraper in Norway; "
               "Gaudí's unfinished basilica in Barcelona",
        people="architects; urban planners; builders",
        questions="what makes a building loved; how cities decide what to tear down; why we build so tall",
        places="Barcelona; Chicago; Tokyo; Brasília",
        titles="Concrete Dreams; Skyline; Form and Function; Blueprint",
    ),
    topic(
        "fashion", "design; business",
        phrases="fashion; the fashion industry; clothing and design; fast fashion",
        sights="a Paris runway show; a garment factory in Dhaka; a vintage market in London",
        people="designers; models; garment workers; stylists",
        questions="who pays the real price of cheap clothes; how a trend starts; whether clothes can be made to last",
        places="Paris; Milan; Dhaka; Tokyo",
        titles="Runway; Thread; Haute Couture; Cut and Sew",
    ),
    topic(
        "chess", "games",
        phrases="chess; grandmasters; chess tournaments; the royal game",
        sights="a world championship match; a park in New York full of speed players; "
               "a child prodigy's first tournament",
        people="grandmasters; chess coaches; prodigies",
        questions="how grandmasters think many moves ahead; what computers changed about chess; "
                  "why prodigies burn out",
        places="Reykjavik; Moscow; Chennai; Washington Square Park",
        titles="Endgame; Checkmate; The Gambit; Sixty-Four Squares",
    ),
    topic(
        "video games", "games; technology", earliest=1990,
        phrases="video games; game design; esports; indie games",
        sights="an esports final in a sold-out arena; a two-person studio shipping its first game; "
               "an arcade frozen in the 1980s",
        people="game designers; esports players; streamers",
        questions="what makes a game fun; how esports became a career; why old games still sell",
        places="Seoul; Kyoto; Seattle",
        titles="Press Start; Game Over; Extra Life; Level Up",
    ),
    topic(
        "rail travel", "travel",
        phrases="rail journeys; train travel; night trains; great railway lines",
        sights="the Trans-Siberian crossing the taiga; a Swiss mountain railway in snow; "
               "a sleeper train from Vienna to Rome",
        people="train drivers; conductors; fellow passengers; railway enthusiasts",
        questions="why night trains are coming back; what a week on a train teaches you; "
                  "how the great lines were built",
        places="Siberia; the Swiss Alps; India; Japan",
        titles="Sleeper; End of the Line; Slow Train; All Aboard",
    ),
    topic(
        "immigration", "society; politics",
        phrases="immigration; refugees; migration and belonging; life in a new country",
        sights="a family reunited at an airport; a language class for new arrivals; "
               "a boat rescue in the Mediterranean",
        people="refugees; immigrants; aid workers; immigration lawyers",
        questions="what it takes to start over in a new country; how borders shape lives; "
                  "what the second generation inherits",
        places="Lampedusa; the US-Mexico border; Berlin",
        titles="Arrivals; Borderlands; New Home; Crossing",
    ),
    topic(
        "elections", "politics; society",
        phrases="elections; democracy; voting; political campaigns",
        sights="a campaign bus on the road; a vote count going through the night; "
               "a first-time voter in a village school",
        people="candidates; campaign staff; election officials; pollsters",
        questions="how campaigns win votes; whether polls can be trusted; what makes an election fair",
        places="Washington; Delhi; Brussels",
        titles="Ballot; The Count; Swing State; Polling Day",
    ),
    topic(
        "parenting", "family; society",
        phrases="parenting; raising children; family life; the first year with a baby",
        sights="a newborn's first night home; a school gate at 8.45; a teenager's first job",
        people="parents; paediatricians; teachers",
        questions="how much screen time is too much; what children really need from their parents; "
                  "how families share the work at home",
        places="Copenhagen; Toronto; Melbourne",
        titles="Small Humans; Bedtime; Growing Up; The Family Plan",
    ),
    topic(
        "photography", "art",
        phrases="photography; the art of the photograph; documentary photography; the camera",
        sights="a darkroom printing a famous portrait; a war photographer's contact sheets; "
               "a street photographer working the same corner for fifty years",
        people="photographers; photo editors; gallery curators",
        questions="what makes a picture last; how photography changed the news; "
                  "whether a photograph can still be trusted",
        places="New York; Paris; Magnum's archive",
        titles="Exposure; Contact Sheet; The Decisive Moment; Negative Space",
    ),
    topic(
        "surfing", "sports; adventure",
        phrases="surfing; big-wave surfing; surf culture",
        sights="a 20-metre wave at Nazaré; a surf school on a Cornish beach; board shapers at work",
        people="surfers; board shapers; lifeguards",
        questions="how surfers read a wave; why big-wave riders risk drowning; "
                  "how surf towns change when the crowds arrive",
        places="Nazaré; Hawaii; Cornwall; Bali",
        titles="Swell; Wipeout; Big Wave; Barrel",
    ),
    topic(
        "gardening", "home; nature", related="beekeeping",
        phrases="gardening; growing vegetables; allotments; city gardens",
        sights="an allotment through four seasons; a balcony vegetable garden; a community garden on a car park",
        people="gardeners; allotment holders; horticulturists",
        questions="what to plant in a small space; how to grow food without chemicals; "
                  "why gardening is good for the mind",
        places="London; Detroit; Kyoto",
        titles="Green Fingers; The Allotment; Seed to Table; Grow",
    ),
)
