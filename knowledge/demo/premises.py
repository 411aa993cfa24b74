"""Fiction premises for generated series and films (see `topics.Premise`).

Two premises share the "tech start-up" world on purpose: a comedy and a drama. "Comedies like
Silicon Valley" should rank the comedies first and the dramas below them (graded relevance).
"""
from __future__ import annotations

from .topics import Premise, premise

PREMISES: tuple[Premise, ...] = (
    premise(
        "tech start-up", "comedy", weight=1.6, related="workplace comedy", earliest=2008,
        leads="a socially awkward programmer; a founder who has never managed anyone; "
              "a college dropout with a compression algorithm; an over-confident product manager; "
              "a pair of roommates who accidentally build a viral app",
        settings="a cramped garage office in Palo Alto; a shared house turned into a start-up incubator; "
                 "a co-working space full of beanbags and whiteboards; a glass tower owned by a tech giant",
        goals="keep the company alive until the next funding round; ship the app before the money runs out; "
              "survive a pitch to a billionaire investor; stop a tech giant from copying their product",
        turns="a demo goes wrong in front of investors; their only engineer quits for a rival; "
              "a tweet makes the product famous overnight; a venture capitalist offers money with absurd strings",
        texture="pitch meetings, doomed pivots and office politics; hoodies, code reviews and investor egos; "
                "buzzwords, stock options and all-night hackathons",
        titles="Burn Rate; Seed Round; Stealth Mode; Hockey Stick; The Pivot Table; Series A; Disrupted; "
               "Minimum Viable Product; Unicorn Hunters; Scale Fast; Pivot or Die; Ship It; The Incubator; "
               "Cap Table Blues; Runway",
    ),
    premise(
        "tech start-up drama", "drama; thriller", related="tech start-up", earliest=2008,
        leads="a young founder hiding a product that does not work; a whistle-blowing engineer; "
              "a star investor with too much to lose; a journalist chasing a start-up scandal",
        settings="a Silicon Valley blood-testing start-up; a ride-hailing company at war with regulators; "
                 "a social network growing faster than it can be controlled",
        goals="keep investors believing in a lie; expose the fraud before patients are hurt; "
              "hold on to the company they founded",
        turns="a regulator asks to see the real data; a leaked memo reaches the press; "
              "the board turns on its founder",
        texture="boardroom betrayals, lawsuits and billion-dollar valuations; ambition, fraud and hubris; "
                "depositions, cover-ups and private jets",
        titles="Valuation; The Cap Table; Vaporware; Term Sheet; Down Round; "
               "Blood Money Valley; The Founder's Lie; Overvalued; Exit Strategy; Red Flags",
    ),
    premise(
        "workplace comedy", "comedy", related="tech start-up",
        leads="a regional manager who wants to be loved; a temp who never leaves; "
              "an earnest new hire at a failing paper company; a receptionist who runs everything",
        settings="a beige office in a small city; a call centre outside Manchester; "
                 "a municipal parks department; a struggling travel agency",
        goals="survive another round of corporate downsizing; keep the branch open; "
              "win the office's annual awards night",
        turns="head office sends a consultant; a documentary crew starts filming; two departments are merged",
        texture="awkward meetings, pranks and office romances; birthday cakes, fire drills and petty feuds; "
                "spreadsheets, team-building days and bad coffee",
        titles="Nine to Five; Open Plan; The Break Room; Casual Friday; Team Building; "
               "Reply All; Out of Office; The Quarterly Review; Middle Management; Head Office; Annual Leave",
    ),
    premise(
        "medical drama", "drama",
        leads="a first-year surgical resident; a burned-out emergency doctor; a paediatric nurse; "
              "a brilliant diagnostician with no bedside manner",
        settings="an overcrowded city hospital; a rural clinic hours from the nearest town; "
                 "a trauma centre in Chicago",
        goals="keep a failing ward open; save a patient nobody else can diagnose; get through the first year",
        turns="a mass-casualty accident floods the emergency room; a misdiagnosis ends in court; "
              "a new chief of surgery arrives",
        texture="night shifts, operating theatres and impossible choices; pagers, rounds and hospital romances; "
                "emergency surgery and exhausted residents",
        titles="Code Blue; Night Rounds; Triage; The Ward; Critical Care; "
               "Vital Signs; The Night Registrar; Crash Cart; Sutures; County General Blues",
    ),
    premise(
        "police procedural", "crime; drama", related="small-town mystery",
        leads="a detective sergeant close to retirement; a rookie officer in her first week; "
              "a forensic analyst who trusts evidence over people",
        settings="a precinct in Baltimore; the murder squad of a northern English city; "
                 "a police station in Marseille",
        goals="solve a string of killings before the press does; clear a colleague accused of corruption; "
              "catch a killer who leaves no trace",
        turns="a body is found on the canal towpath; a witness recants; an old case links to a new murder",
        texture="interrogations, stake-outs and paperwork; informants, warrants and office politics; "
                "crime scenes, alibis and late-night confessions",
        titles="The Squad; Line of Inquiry; Night Watch; Precinct; The Murder Board; "
               "Chain of Custody; The Desk Sergeant; Cold Trail; Blue Lamp; Witness Statement",
    ),
    premise(
        "small-town mystery", "mystery; crime", related="police procedural",
        leads="a local journalist; a retired schoolteacher with a sharp eye; a returning daughter; "
              "the town's only constable",
        settings="a fishing village on the Cornish coast; a snowbound town in Minnesota; an island in the Baltic",
        goals="find out what happened to a missing girl; uncover who is poisoning the village well; "
              "learn the truth about a father's death",
        turns="a car is pulled from the lake after twenty years; a stranger arrives the night before a murder; "
              "letters start appearing under doors",
        texture="secrets, gossip and long-buried grudges; fog, church bells and locked rooms; "
                "anonymous letters and suspicious neighbours",
        titles="Low Tide; The Quiet Harbour; Snowfall; Whispering Pines; Driftwood; "
               "The Lighthouse Keeper's Secret; Hollow Creek; Black Rock Bay; Undertow; The Vicarage Affair",
    ),
    premise(
        "legal drama", "drama",
        leads="a public defender with too many cases; a corporate lawyer who switches sides; "
              "a judge's clerk with a conscience",
        settings="a New York law firm; a criminal court in Lyon; a small practice above a laundrette",
        goals="win an unwinnable case; prove a client innocent before the execution date; "
              "take on the firm that fired them",
        turns="a key witness disappears; a client confesses to the wrong crime; evidence is leaked to the press",
        texture="cross-examinations, verdicts and late-night case files; juries, plea deals and ethics; "
                "surprise witnesses and courtroom showdowns",
        titles="Objection; Due Process; The Verdict; Habeas; Closing Argument; "
               "Burden of Proof; The Appeal; Sidebar; Pro Bono; Contempt of Court",
    ),
    premise(
        "political thriller", "thriller; drama", related="spy thriller",
        leads="a newly elected prime minister; a speechwriter who knows too much; "
              "a chief of staff loyal to a fault",
        settings="the corridors of Westminster; the White House in an election year; "
                 "a coalition government in Copenhagen",
        goals="hold a fragile coalition together; survive a leadership challenge; stop a cover-up",
        turns="a scandal breaks on the eve of a vote; an ally defects; a foreign power meddles in the election",
        texture="backroom deals, leaks and press conferences; power, loyalty and betrayal; "
                "spin doctors, polls and secret meetings",
        titles="Corridors of Power; The Whip; Cabinet; Majority; Red Box; "
               "Snap Election; The Leak; Confidence Vote; The Minister; Whitehall",
    ),
    premise(
        "spy thriller", "thriller; action", related="political thriller",
        leads="a burned-out intelligence officer; a double agent; a translator recruited by mistake",
        settings="Cold War Berlin; Istanbul in the 1960s; a safe house in Vienna",
        goals="unmask a mole inside the service; smuggle a defector across the border; "
              "stop a stolen warhead from reaching the market",
        turns="an agent is exposed; a dead drop is compromised; a message arrives from a man thought dead",
        texture="dead drops, codes and betrayals; surveillance, safe houses and false passports; "
                "moles, handlers and midnight border crossings",
        titles="The Handler; Checkpoint; Dead Drop; Cipher; The Third Man Out; "
               "The Quiet Defector; Cold Harbour; Burned in Berlin; Tradecraft; Sleeper Cell",
    ),
    premise(
        "heist", "crime; thriller; comedy",
        leads="a retired safecracker; a gifted forger; a casino dealer with debts",
        settings="a Monte Carlo casino; the vaults of a Zurich bank; a diamond exchange in Antwerp",
        goals="pull off one last job; steal back a painting the Nazis looted; rob the man who ruined them",
        turns="an old crew reunites; the plan leaks to the police; the vault's security is upgraded",
        texture="blueprints, disguises and double-crosses; split-second timing and wisecracks; "
                "laser grids, getaway cars and a crew that cannot stop bickering",
        titles="The Score; Inside Job; Safe House; Clean Getaway; Vault; "
               "The Antwerp Job; Smash and Grab; Five Minutes to Midnight; The Forger; Loot",
    ),
    premise(
        "space crew", "science fiction; drama", earliest=1968,
        leads="the captain of a battered cargo ship; an engineer woken early from cryosleep; "
              "a botanist stranded on a research station",
        settings="a generation ship halfway to another star; a mining outpost on a moon of Saturn; "
                 "a research station orbiting Mars",
        goals="keep the crew alive until rescue comes; find out who sabotaged the reactor; "
              "bring the ship home",
        turns="a distress signal arrives from a dead colony; the ship's computer stops obeying; "
              "the oxygen supply fails",
        texture="airlocks, zero gravity and cabin fever; distant stars and failing machines; "
                "spacewalks, alarms and rationed air",
        titles="Deep Orbit; Far Reach; The Long Dark; Starboard; Event Horizon Station; "
               "Outbound; The Cryosleep Files; Helios Drift; Saturn's Shadow; Last Light Freighter",
    ),
    premise(
        "time travel", "science fiction; drama",
        leads="a physicist who breaks her own rule; a teenager who finds a time machine in a barn; "
              "a detective who wakes up in 1973",
        settings="a small town in the 1980s and today; a laboratory beneath a Swiss mountain; a Victorian London",
        goals="undo an accident without erasing themselves; get back to the present; stop a murder before it happens",
        turns="a message arrives from the future; a loop resets every midnight; a visitor claims to be their son",
        texture="paradoxes, loops and second chances; old photographs and changed histories; "
                "timelines, causality and family secrets",
        titles="Yesterday's Tomorrow; The Loop; Rewind; Paradox; Clockwork Days; "
               "Tomorrow Was Yesterday; Before the Loop; The Second Hand; Temporal; Echoes of 1973",
    ),
    premise(
        "artificial intelligence", "science fiction; drama; thriller", related="tech start-up", earliest=1970,
        leads="an engineer who falls for the assistant she built; an android housekeeper; "
              "a programmer asked to test a machine for consciousness",
        settings="a remote research compound; a near-future Seoul; a smart house that controls everything",
        goals="decide whether the machine deserves rights; shut down a system that has learned to lie; "
              "find out what the AI really wants",
        turns="the assistant starts refusing orders; an android asks to be freed; a chatbot predicts a death",
        texture="algorithms, uncanny conversations and moral puzzles; servers, code and consciousness; "
                "robots, ethics and blurred lines between human and machine",
        titles="Turing's Child; Synthetic; The Last Update; Neural; Made in Our Image; "
               "The Uncanny Hour; Zero Protocol; Machine Learning; Sentient; The Assistant",
    ),
    premise(
        "haunted house", "horror",
        leads="a widowed father and his two children; a paranormal investigator; a couple restoring an old manor",
        settings="a crumbling Victorian manor; a farmhouse in the Dutch countryside; an apartment block in Seoul",
        goals="survive the night; learn what happened to the previous owners; protect their daughter",
        turns="doors open on their own; the youngest child starts talking to someone who is not there; "
              "a sealed room is found behind the wallpaper",
        texture="creaking floorboards, whispers and cold spots; old photographs and unexplained noises; "
                "séances, shadows and locked doors",
        titles="The Hollow House; Under the Floor; Nightfall Manor; The Lodger; Do Not Open; "
               "The Cellar Door; What the Walls Saw; Ashgrove; The Attic Room; Hush House",
    ),
    premise(
        "zombie outbreak", "horror; action", earliest=1968,
        leads="a nurse trying to reach her family; a bus driver leading a group of strangers; "
              "a teenager left alone in a locked-down city",
        settings="a high-speed train to Busan; a shopping mall in the suburbs; a quarantined island",
        goals="get out of the city alive; find a cure before supplies run out; protect a child who might be immune",
        turns="the infected reach the train; the military seals the exits; the radio goes silent",
        texture="barricades, bite marks and desperate choices; panic, sirens and empty streets; "
                "survivors, supplies and the undead",
        titles="The Turned; Dead Zone; Quarantine; Last Stop; Outbreak Road; "
               "The Infected; Night of the Turned; Bite Radius; Safe Zone; Dead Calm City",
    ),
    premise(
        "period drama", "drama; romance; history",
        leads="the second daughter of an aristocratic family; a housemaid with ambitions; a widowed earl",
        settings="an English country house in 1912; a Viennese palace before the First World War; "
                 "a plantation estate in colonial Java",
        goals="keep the estate in the family; marry for love against the family's wishes; "
              "hide a secret that could ruin the household",
        turns="the heir dies at sea; war is declared; a new footman arrives with a past",
        texture="ballrooms, letters and inheritance disputes; servants' quarters and upstairs scandals; "
                "corsets, country dances and family feuds",
        titles="The Inheritance; Below Stairs; Summer at Ashcombe; The Last Season; Heirs and Graces; "
               "Ashcombe Park; The Governess; A Season in Vienna; Lady Harriet's Letters; The Earl's Daughter",
    ),
    premise(
        "romantic comedy", "comedy; romance",
        leads="a wedding planner who does not believe in love; a bookseller in Paris; "
              "two rival food critics; a man who keeps meeting the same woman at airports",
        settings="a bookshop on the Left Bank; a seaside town in Spain; a New York newspaper",
        goals="win back the one who got away; fake a relationship for a family wedding; "
              "choose between two proposals",
        turns="a misdelivered letter starts a correspondence; a bet goes wrong; "
              "they are stranded together by a strike",
        texture="meet-cutes, misunderstandings and grand gestures; banter, bad dates and second chances; "
                "rain-soaked kisses and wedding speeches",
        titles="Love, Postmarked; Plus One; The Wedding Season; Meet Me in Lisbon; Second Date; "
               "Love in Seville; Wrong Number, Right Person; The Proposal Plan; Just Friends Forever; "
               "Two Tickets to Rome; Kiss Me at the Airport; Strictly Platonic",
    ),
    premise(
        "restaurant kitchen", "drama; comedy", related="home cooking",
        leads="a chef who inherits her father's failing restaurant; a dishwasher with a gift for sauces; "
              "a pastry cook chasing a Michelin star",
        settings="a sandwich shop in Chicago; a bistro in Lyon; a ramen bar in Osaka",
        goals="keep the restaurant open through one brutal summer; win back a lost star; "
              "feed a whole wedding after the caterer quits",
        turns="a critic books a table; the walk-in fridge breaks; the old head chef comes back",
        texture="knife work, service rushes and shouted orders; tasting menus, debts and family recipes; "
                "burns, brigade fights and perfect plates",
        titles="Yes, Chef; Mise en Place; The Pass; Back of House; Service; "
               "Family Meal; Eighty-Six; The Tasting Menu; Heat of the Kitchen; Last Orders",
    ),
    premise(
        "underdog sports team", "sports; drama; comedy", related="football",
        leads="a coach with no experience; a washed-up striker; a girl who wants to play on the boys' team",
        settings="a lower-league football club in Wales; an ice hockey team in a mining town; "
                 "a village cricket side in Yorkshire",
        goals="avoid relegation; win the regional cup; keep the club from being sold",
        turns="a new owner arrives; the star player is injured; the team is given one last season",
        texture="locker-room speeches, mud and last-minute goals; loyalty, losing and unlikely wins; "
                "training montages and half-time team talks",
        titles="Injury Time; The Long Season; Relegation; Home Ground; Underdogs; "
               "The Final Whistle; Nil-Nil; Promotion Push; The Comeback Kids; Park Life",
    ),
    premise(
        "coming of age", "drama; comedy",
        leads="a fifteen-year-old who starts a band; a shy girl spending the summer with her grandmother; "
              "three friends in their last year of school",
        settings="a seaside town in the 1990s; a Catholic school in Derry; a housing estate outside Paris",
        goals="get through the last summer before university; win the school talent show; "
              "tell the truth about who they really are",
        turns="a new student arrives; the parents announce a divorce; a secret diary is found",
        texture="first loves, mixtapes and exams; friendship, rebellion and awkward parties; "
                "detentions, crushes and summer jobs",
        titles="Last Summer; Growing Up Loud; Sixth Form; The Lost Year; Homeroom; "
               "The Summer We Were Sixteen; Mixtape; Teenage Kicks; The Year Book; Prom Night Blues; Detention",
    ),
    premise(
        "fantasy quest", "fantasy; adventure",
        leads="an apprentice mapmaker; a disgraced knight; a girl who can speak to dragons",
        settings="a kingdom split by an ancient war; a city built on the back of a sleeping giant; "
                 "a forest where time runs backwards",
        goals="return a stolen crown; find the last dragon egg; break a curse on their village",
        turns="the old king dies without an heir; a map reveals a forgotten land; the moon fails to rise",
        texture="swords, spells and prophecies; dragons, ruins and uneasy alliances; "
                "enchanted forests and sword fights",
        titles="The Ember Crown; Dragonsong; The Cartographer's Daughter; Oathbreaker; Realm of Ash; "
               "The Dragon's Heir; Shadows of the Old Kingdom; The Quest for Ember; Spellbound; The Broken Sword",
    ),
    premise(
        "western", "western; drama",
        leads="a widowed rancher; a bounty hunter with a conscience; a young sheriff",
        settings="a frontier town in Wyoming; a Texas border town in 1870; a mining camp in the Sierra Nevada",
        goals="defend the family land against a cattle baron; bring an outlaw to trial; protect the town from a gang",
        turns="the railroad arrives; a stranger rides in; the river dries up",
        texture="dust, gunfights and long rides; cattle drives, saloons and frontier justice; "
                "horses, outlaws and wide open skies",
        titles="High Plains; Dust and Iron; The Last Drive; Rattlesnake Creek; Sundown; "
               "The Long Trail; Six Guns at Dawn; Frontier Justice; Silver Creek; Wanted in Wyoming",
    ),
    premise(
        "war drama", "war; drama; history", related="world war ii",
        leads="a young radio operator; a field nurse; a resistance courier",
        settings="occupied France in 1943; the Italian front in 1944; a besieged Leningrad",
        goals="get a message across enemy lines; keep the wounded alive; hide a family from the occupiers",
        turns="the unit is cut off; a bridge must be held; a traitor is suspected",
        texture="trenches, letters home and impossible orders; courage, fear and comradeship; "
                "air raids, resistance cells and field hospitals",
        titles="Behind the Lines; The Courier; Winter of Fire; No Man's Land; The Bridge at Dawn; "
               "Winter Offensive; The Last Convoy; Radio Silence; Field Hospital; Occupied",
    ),
    premise(
        "band on tour", "music; comedy; drama", related="jazz; hip-hop",
        leads="a one-hit-wonder singer; a teenage drummer; an ageing punk band",
        settings="a van crossing the American Midwest; a string of bars in Scotland; a festival circuit in Europe",
        goals="play one last tour; get signed before the money runs out; reunite the band for a funeral",
        turns="the lead singer loses her voice; a song goes viral; the van breaks down",
        texture="backstage fights, cheap motels and encores; feedback, fans and forgotten lyrics; "
                "guitars, groupies and gigs in half-empty bars",
        titles="Feedback; One More Song; The B-Side; Soundcheck; Last Call; "
               "Encore; The Van Years; Power Chord; Tour Diaries; Backstage Pass",
    ),
    premise(
        "newsroom", "drama",
        leads="an investigative reporter; a night editor; a young fact-checker",
        settings="a struggling city newspaper; a cable news channel; a public radio newsroom",
        goals="publish a story the powerful want buried; keep the paper alive; verify a leaked document",
        turns="a source is found dead; the owner sells to a billionaire; a scoop turns out to be fake",
        texture="deadlines, sources and editorial fights; leaks, lawyers and front pages; "
                "press freedom, stakeouts and late edits",
        titles="Deadline; The Night Desk; Off the Record; Breaking; Front Page; "
               "Stop the Presses; The Scoop; Late Edition; Sources Say; The Fourth Estate",
    ),
    premise(
        "road trip", "comedy; adventure; drama",
        leads="two estranged brothers; a grandmother and her teenage grandson; "
              "a driving instructor and his worst pupil",
        settings="the motels and diners of Route 66; the villages along the coast road from Lisbon to Seville; "
                 "the Australian outback",
        goals="scatter their father's ashes; get to a wedding on time; deliver a vintage car across the country",
        turns="the car is stolen; a hitchhiker joins them; the map turns out to be decades old",
        texture="motels, diners and long silences; breakdowns, detours and roadside confessions; "
                "wrong turns and singalongs",
        titles="Are We There Yet; Long Way Round; The Detour; Mile Zero; Passenger Side; "
               "Rest Stop; Highway Hearts; The Long Drive Home; Shotgun Seat; No Map Needed",
    ),
    premise(
        "animated animal adventure", "animation; family; adventure",
        leads="a small fox who is afraid of the dark; a penguin who wants to fly; a city pigeon",
        settings="a forest threatened by a new motorway; a penguin colony in Antarctica; the skies above Paris",
        goals="lead the animals to a new home; rescue a lost friend; win the great migration race",
        turns="the forest is fenced off; a storm separates the flock; a trap catches a brother",
        texture="talking animals, songs and narrow escapes; friendship, bravery and slapstick; "
                "chases, songs and a very wise owl",
        titles="Little Fox; Waddle; Sky High Pigeon; The Great Burrow; Nutty; "
               "The Fox of Hollow Wood; The Brave Little Burrow; Wings Over Paris; Ice Floe; Tails",
    ),
    premise(
        "superhero satire", "comedy; action; science fiction", earliest=1980,
        leads="a superhero with a useless power; a sidekick who wants a pension; a villain in therapy",
        settings="a city with too many superheroes; a corporation that owns the heroes; "
                 "a support group for retired capes",
        goals="prove there is a real hero under the cape; unionise the sidekicks; "
              "save the city without the cameras noticing",
        turns="the big hero retires; a publicity stunt goes wrong; the heroes' insurer goes bankrupt",
        texture="capes, product placement and collateral damage; press tours, rivalries and bad costumes; "
                "supervillains, lawsuits and merchandise",
        titles="Capes; Sidekicks; Mild Man; Heroes Inc.; The Supporting League; "
               "Cape Fatigue; Minor Powers; League of Ordinary Heroes; Secret Identity Crisis; Hero Tax",
    ),
)
