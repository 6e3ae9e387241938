"""Built-in lexicons for the pattern-and-lexicon extractor: office supplies, beauty products, industrial goods.

Written by hand from the vocabulary of the amazon-office titles and the amazon-beauty titles and categories
(the most frequent words of each, read and sorted by type); the industrial lists (issue 19: tools, fasteners,
electrical, plumbing, lab and safety supplies, 3D printing) from the department structure of Amazon's
Industrial & Scientific catalog as the engineer knew it, no such catalog being available here. Brand names are
not here: they come from the graph's Brand nodes (the catalogs' structured brand field) at run time. Matching is
on word sequences, case and plural insensitive (``gel pens`` matches ``gel pen``), longest match first.
"""

from __future__ import annotations

from typing import Final

from kg.extract.schema import EntityType


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split("|") if w.strip())


PRODUCT_TYPES: Final = _words("""
pen|gel pen|ballpoint pen|ball point pen|rollerball pen|roller ball pen|fountain pen|dip pen|felt pen|
fineliner|brush pen|marker|permanent marker|dry erase marker|paint marker|highlighter|pencil|
mechanical pencil|colored pencil|coloring pencil|colouring pencil|watercolor pencil|lead|pencil lead|
lead refill|refill|ink refill|ink|ink cartridge|ink bottle|ink tank|toner|toner cartridge|drum|drum unit|
cartridge|printhead|print head|paper|copy paper|printer paper|photo paper|cardstock|card stock|
construction paper|graph paper|tissue paper|notebook|composition book|journal|planner|calendar|desk calendar|
wall calendar|diary|notepad|note pad|pad|legal pad|writing pad|sticky note|sticky notes|post it notes|
memo pad|index card|flash card|card|business card|greeting card|label|address label|shipping label|
file folder label|label maker|label tape|tape|packing tape|masking tape|washi tape|duct tape|
double sided tape|correction tape|tape dispenser|dispenser|binder|ring binder|3 ring binder|binder clip|
paper clip|clip|clipboard|folder|file folder|hanging folder|hanging file folder|expanding file|pocket folder|
portfolio|envelope|mailer|bubble mailer|padded mailer|poly mailer|shipping box|box|storage box|file box|
stapler|staple|staples|staple remover|hole punch|punch|paper punch|paper cutter|trimmer|scissors|ruler|eraser|
pencil sharpener|sharpener|glue|glue stick|glue gun|adhesive|rubber band|push pin|thumb tack|pushpin|
calculator|scientific calculator|printing calculator|shredder|paper shredder|laminator|laminating pouch|
laminating pouches|sheet protector|page protector|divider|index divider|tab|index tab|desk organizer|
organizer|file organizer|drawer organizer|desk tray|letter tray|tray|holder|pen holder|pencil holder|
card holder|badge holder|name badge|lanyard|badge reel|bookend|stamp|rubber stamp|stamp pad|ink pad|
self inking stamp|whiteboard|white board|dry erase board|bulletin board|cork board|corkboard|chalkboard|
easel pad|flip chart|chart tablet|board|mouse|mouse pad|wrist rest|keyboard|monitor stand|laptop stand|stand|
chair|office chair|desk|lamp|desk lamp|printer|label printer|scanner|fax machine|typewriter|ribbon|
typewriter ribbon|battery|cash box|safe|sign|easel|bag|tote bag|backpack|pencil case|pencil pouch|pouch|case|
bubble wrap|cushioning wrap|roll|receipt paper|thermal paper|register roll|certificate|award certificate|
postcard|poster board|foam board|tablet|sketchbook|sketch pad|drawing pad|watercolor paper|paint|watercolor|
crayon|chalk|pastel|nib|converter|inkwell|blotter|letter opener|magnifier|magnet|hook|cable|usb cable|charger|
adapter|headset|headphones|speaker|webcam|shipping tag|tag|sticker|seal|wax seal|sealing wax|shampoo|
conditioner|hair conditioner|leave in conditioner|dry shampoo|hair spray|hairspray|hair gel|gel|mousse|pomade|
hair wax|wax|hair oil|hair serum|serum|hair mask|mask|face mask|sheet mask|hair color|hair dye|hair colour|
toner|bleach|developer|hair straightener|flat iron|curling iron|curling wand|hair dryer|blow dryer|diffuser|
hot rollers|hair roller|curler|hair curler|comb|brush|hair brush|hairbrush|round brush|paddle brush|
makeup brush|foundation brush|powder brush|blush brush|brush set|sponge|makeup sponge|beauty blender|puff|
powder puff|nail polish|nail lacquer|nail color|nail enamel|gel polish|top coat|base coat|nail polish remover|
polish remover|nail file|emery board|nail buffer|buffer|nail clipper|clipper|cuticle oil|cuticle cream|
cuticle pusher|cuticle nipper|nail art|nail sticker|false nails|press on nails|lipstick|lip gloss|lip balm|
lip liner|lip stain|lip plumper|lip color|mascara|eyeliner|eye liner|liquid eyeliner|gel eyeliner|eyeshadow|
eye shadow|eyeshadow palette|palette|eyebrow pencil|brow pencil|brow gel|eyelash curler|lash curler|
false eyelashes|eyelashes|lashes|lash adhesive|eyelash glue|foundation|liquid foundation|powder foundation|
concealer|primer|face primer|powder|face powder|setting powder|loose powder|pressed powder|blush|bronzer|
highlighter|contour|bb cream|cc cream|tinted moisturizer|moisturizer|face cream|night cream|day cream|
eye cream|cream|lotion|body lotion|hand cream|hand lotion|body butter|body oil|body wash|shower gel|bath gel|
soap|bar soap|hand soap|liquid soap|cleanser|face wash|facial cleanser|cleansing oil|micellar water|
makeup remover|toner|astringent|exfoliator|scrub|body scrub|face scrub|peel|chemical peel|serum|face serum|
essence|ampoule|oil|facial oil|sunscreen|sunblock|self tanner|tanning lotion|bronzing lotion|after sun|
perfume|eau de parfum|eau de toilette|cologne|body spray|body mist|fragrance|deodorant|antiperspirant|razor|
shaving cream|aftershave|after shave|beard oil|bath bomb|bath salt|bath salts|bubble bath|loofah|pouf|
washcloth|towel|hair towel|headband|hair tie|scrunchie|hair clip|bobby pin|hair pin|barrette|claw clip|wig|
hair extension|hairpiece|mirror|makeup mirror|compact mirror|cosmetic bag|makeup bag|toiletry bag|train case|
tweezers|eyebrow razor|cotton swab|cotton ball|cotton pad|blotting paper|lip scrub|foot cream|foot file|
callus remover|pumice stone|face roller|jade roller|spray|mist|facial mist|setting spray|tonic|treatment|
hair treatment|scalp treatment|kit|set|gift set|refill|applicator|dropper|bottle|spray bottle|container|jar|
tube|pump|relaxer|perm|texturizer|henna|tattoo|temporary tattoo|body glitter|eyebrow gel|pencil eyeliner|kohl|
stain|tint|cheek tint|balm|salve|butter|gloss|polish|enamel|lacquer|liner|wand|iron|dryer|straightener|
trimmer|shaver|
""")

MATERIALS: Final = _words("""
aluminum|aluminium|steel|stainless steel|metal|brass|copper|iron|titanium|chrome|gold plated|silver plated|
plastic|acrylic|polypropylene|poly|vinyl|pvc|nylon|polyester|rubber|silicone|latex|foam|eva foam|
wood|wooden|bamboo|cork|leather|faux leather|pu leather|genuine leather|canvas|fabric|cotton|linen|felt|
mesh|paper|cardboard|kraft|kraft paper|chipboard|fiberboard|glass|tempered glass|ceramic|porcelain|marble|
stone|resin|carbon fiber|microfiber|velvet|satin|silk|wool|jute|boar bristle|bristle|synthetic|
synthetic hair|human hair|natural hair|mohair|tourmaline|ceramic tourmaline|titanium ceramic|bakelite|celluloid|
""")

COLORS: Final = _words("""
black|white|red|blue|green|yellow|orange|purple|pink|brown|gray|grey|silver|gold|beige|ivory|tan|navy|
navy blue|dark blue|light blue|sky blue|royal blue|baby blue|teal|turquoise|aqua|cyan|magenta|violet|lilac|
burgundy|maroon|wine|coral|peach|rose|rose gold|fuchsia|hot pink|light pink|lime|lime green|olive|mint|
mint green|forest green|dark green|light green|emerald|graphite|bronze|copper|champagne|nude|clear|
transparent|translucent|multicolor|multi color|multicolored|rainbow|assorted|assorted colors|assorted colours|
assorted color|neon|pastel|metallic|matte black|jet black|blonde|brunette|auburn|platinum|ash blonde|
dark brown|light brown|medium brown|black brown|nude beige|berry|plum|mauve|taupe|khaki|smoke|smoky|crimson|
scarlet|cherry|ruby|sapphire|amber|
""")

FEATURES: Final = _words("""
waterproof|water resistant|water proof|smudge proof|smudge resistant|fade resistant|quick dry|quick drying|
fast drying|permanent|washable|erasable|refillable|reusable|disposable|retractable|rechargeable|wireless|
portable|adjustable|foldable|collapsible|stackable|magnetic|self adhesive|adhesive|removable|repositionable|
acid free|archival|lignin free|non toxic|nontoxic|odorless|low odor|eco friendly|recycled|biodegradable|
heavy duty|durable|lightweight|compact|ergonomic|comfort grip|soft grip|non slip|anti slip|fine point|
extra fine point|medium point|bold point|ultra fine|fine tip|chisel tip|bullet tip|brush tip|dual tip|fine|
extra fine|medium|bold|broad|needle point|glossy|matte|satin finish|gloss finish|matte finish|shimmer|glitter|
metallic finish|frosted|long lasting|long wearing|long wear|all day|24 hour|smudge free|transfer proof|
oil free|fragrance free|unscented|scented|paraben free|sulfate free|cruelty free|vegan|organic|natural|
hypoallergenic|dermatologist tested|non comedogenic|alcohol free|gluten free|moisturizing|hydrating|
nourishing|volumizing|lengthening|curling|thickening|smoothing|straightening|anti frizz|frizz control|
color safe|anti aging|anti wrinkle|firming|brightening|whitening|exfoliating|soothing|clarifying|purifying|
oil control|spf|broad spectrum|sheer|full coverage|buildable|lightweight|travel size|salon|ionic|ceramic|
cordless|high yield|extra high yield|standard yield|duplex|double sided|hole punched|3 hole punched|ruled|
college ruled|wide ruled|blank|lined|dotted|grid|spiral bound|spiral|perforated|laminated|insulated|locking|
lockable|tear resistant|water based|oil based|alcohol based|pigment|pigmented|dye based|gel ink|quick release|
one touch|low force|jam free|anti jam|pop up|electric|manual|digital|rotating|zippered|thermal|round|corded|
automatic|battery operated|heavy weight|self inking|self stick|peel and stick|tamper evident|
""")

AUDIENCES: Final = _words("""
men|man|mens|women|woman|womens|ladies|lady|girls|girl|boys|boy|kids|kid|children|child|toddler|baby|babies|
teens|teen|adults|adult|students|student|teachers|teacher|artists|artist|professionals|professional|beginners|
beginner|unisex|sensitive skin|dry skin|oily skin|combination skin|normal skin|all skin types|acne prone skin|
mature skin|curly hair|dry hair|damaged hair|fine hair|thick hair|colored hair|color treated hair|oily hair|
all hair types|natural hair|
""")

INGREDIENTS: Final = _words("""
argan oil|coconut oil|jojoba oil|olive oil|almond oil|sweet almond oil|avocado oil|castor oil|tea tree|
tea tree oil|rosehip oil|grapeseed oil|sunflower oil|macadamia oil|marula oil|moroccan oil|essential oil|
lavender|lavender oil|peppermint|peppermint oil|eucalyptus|rosemary|chamomile|aloe|aloe vera|green tea|
shea butter|cocoa butter|mango butter|beeswax|honey|manuka honey|oatmeal|oat|colloidal oatmeal|vitamin c|
vitamin e|vitamin a|vitamin b5|vitamin b|biotin|keratin|collagen|hyaluronic acid|glycolic acid|salicylic acid|
lactic acid|retinol|retinoid|niacinamide|peptide|peptides|ceramide|ceramides|glycerin|zinc oxide|
titanium dioxide|benzoyl peroxide|sulfur|charcoal|activated charcoal|clay|bentonite clay|kaolin clay|
dead sea mud|sea salt|dead sea salt|mud|caffeine|ginseng|cucumber|witch hazel|rose water|rosewater|vanilla|
coconut|cocoa|shea|argan|jojoba|avocado|almond|citrus|lemon|grapefruit|strawberry|apple|pomegranate|mango|
papaya|pineapple|blueberry|coffee|silk protein|protein|milk|goat milk|rice|caviar|snail|ginger|henna|placenta|
squalane|panthenol|menthol|camphor|sandalwood|musk|jasmine|gardenia|vanilla|patchouli|cedarwood|bergamot|
ylang ylang|neroli|
""")

INDUSTRIAL_PRODUCT_TYPES: Final = _words("""
caliper|vernier caliper|micrometer|multimeter|clamp meter|voltage tester|
tester|meter|gauge|pressure gauge|feeler gauge|thermometer|infrared thermometer|thermocouple|thermocouple probe|
probe|test lead|oscilloscope|tape measure|measuring tape|laser level|protractor|
screw|machine screw|wood screw|set screw|cap screw|socket cap screw|hex socket cap screw|hex cap screw|
self tapping screw|sheet metal screw|bolt|hex bolt|carriage bolt|eye bolt|u bolt|anchor bolt|hex nut|
lock nut|wing nut|washer|flat washer|lock washer|spring washer|rivet|pop rivet|blind rivet|anchor|wall anchor|
threaded rod|dowel|cotter pin|compression spring|o ring|gasket|seal|shim|spacer|standoff|
bearing|ball bearing|bushing|pulley|gear|sprocket|v belt|hinge|door hinge|latch|hasp|bracket|
angle bracket|shelf bracket|caster|wheel|knob|clamp|hose clamp|c clamp|bar clamp|spring clamp|
vise|bench vise|wrench|socket|socket set|ratchet|hex key|allen wrench|screwdriver|screwdriver set|
nut driver|plier|needle nose plier|wire stripper|crimper|crimping tool|cutter|
wire cutter|bolt cutter|utility knife|hammer|mallet|chisel|rasp|saw|hacksaw|saw blade|drill|
cordless drill|drill bit|drill bit set|step drill bit|hole saw|router bit|driver bit|bit set|
impact driver|tap and die set|grinder|angle grinder|sander|sanding disc|sandpaper|abrasive|
grinding wheel|cutting wheel|flap disc|wire brush|soldering iron|solder|flux|heat gun|glue gun|
wire|electrical wire|copper wire|cable|ethernet cable|network cable|coaxial cable|power cord|extension cord|
cord|cable tie|zip tie|wire connector|connector|terminal|ring terminal|butt connector|heat shrink tubing|
heat shrink|electrical tape|fuse|fuse holder|inline fuse holder|circuit breaker|relay|switch|toggle switch|
rocker switch|push button switch|outlet|receptacle|plug|junction box|electrical box|enclosure|conduit|
terminal block|power supply|transformer|battery|battery holder|
charger|led strip|led light|work light|flashlight|headlamp|light bulb|motor|stepper motor|dc motor|
pump|water pump|solenoid valve|valve|ball valve|check valve|pipe|pipe fitting|fitting|hex nipple|
nipple|elbow|tee|coupling|reducer|adapter|bushing|pipe nipple|quick coupler|barb fitting|push to connect fitting|
hose|air hose|air compressor hose|garden hose|hydraulic hose|tubing|hose reel|regulator|air regulator|
filter|air filter|water filter|syringe filter|filter paper|membrane filter|thread seal tape|
teflon tape|mounting tape|threadlocker|thread locker|impact wrench|torque wrench|filter disc|hose assembly|
hydraulic hose|hydraulic hose assembly|extruder nozzle|foil tape|
caution tape|duct tape|sealant|silicone sealant|epoxy|
lubricant|grease|cutting oil|degreaser|cleaner|rust remover|
beaker|beaker set|flask|erlenmeyer flask|volumetric flask|test tube|test tube rack|graduated cylinder|
pipette|pipette tip|burette|petri dish|funnel|wash bottle|lab notebook|microscope|microscope slide|
cover slip|centrifuge tube|vial|sample bag|syringe|dropper bottle|stir bar|magnetic stirrer|
hot plate|lab scale|ph meter|ph test strip|test strip|hydrometer|refractometer|
glove|exam glove|work glove|lab coat|coverall|apron|welding helmet|welding glove|wrist strap|
safety glass|safety glasses|safety goggle|goggle|face shield|
respirator|dust mask|ear plug|earplug|ear muff|hard hat|safety vest|first aid kit|eyewash|
filament|nozzle|build plate|print bed|hot end|extruder|stepper driver|
sensor|proximity sensor|temperature sensor|thermostat|timer|controller|microcontroller|breadboard|
jumper wire|resistor|capacitor|diode|transistor|potentiometer|
label maker|cable label|magnifier|loupe|inspection mirror|borescope|
caster wheel|storage bin|parts organizer|tool box|toolbox|tool bag|tool set|tool kit|workbench|ladder|
funnel|drum|bucket|pail|tarp|rope|strap|ratchet strap|tie down|bungee cord|carabiner|pulley block|shackle|
""")

INDUSTRIAL_MATERIALS: Final = _words("""
carbon steel|alloy steel|galvanized steel|hardened steel|tool steel|spring steel|cast iron|s2 steel|
chrome vanadium|chrome vanadium steel|zinc|zinc alloy|nickel|tungsten|tungsten carbide|carbide|cobalt|
high speed steel|hss|bronze|phosphor bronze|lead free brass|solid brass|aluminum alloy|
abs|abs plastic|pla|petg|tpu|asa|polycarbonate|nylon 66|hdpe|ldpe|polyethylene|ptfe|teflon|pes|pvdf|
pctfe|peek|delrin|acetal|uhmw|polyurethane|neoprene|epdm|viton|buna n|nitrile|butyl|fiberglass|
borosilicate|borosilicate glass|polyimide|polymer|quartz|sapphire glass|lithium|lithium ion|nimh|alkaline|
""")

INDUSTRIAL_FEATURES: Final = _words("""
electronic|sterile|non sterile|powder free|latex free|anti fog|anti scratch|impact resistant|
shatterproof|shatter resistant|explosion proof|corrosion resistant|rust resistant|rust proof|
heat resistant|high temperature|chemical resistant|oil resistant|flame retardant|fire resistant|
weatherproof|weather resistant|outdoor|indoor|indoor outdoor|dustproof|shockproof|insulated|
zinc plated|nickel plated|chrome plated|galvanized|anodized|black oxide|powder coated|
true rms|auto ranging|backlit|backlight|self locking|quick connect|push to connect|threaded|
single ended|double ended|magnetic tip|ratcheting|variable speed|brushless|
industrial grade|commercial grade|lab grade|food grade|medical grade|reagent grade|
auto darkening|solar powered|flame resistant|anti static|esd safe|lead free|full port|wall mount|
bottom mount|panel mount|conical bottom|uncorded|pneumatic|hydraulic|cut resistant|medium strength|high strength|
metric|
qualitative|quantitative|disposable|autoclavable|graduated|precision|button top|flat top|k type|j type|
thhn|thwn|
""")

INDUSTRIAL_AUDIENCES: Final = _words("""
electrician|electricians|mechanic|mechanics|plumber|plumbers|contractor|contractors|technician|technicians|
engineer|engineers|machinist|machinists|woodworker|woodworkers|diy|hobbyist|hobbyists|
""")

#: Single words that are also brand names in the catalogs ("Universal", "Expo", "Duo") but, lower-case and
#: inside a title, usually mean the word: such brands only match capitalised, or first in the title.
COMMON_WORDS: Final = frozenset(_words("""
universal|expo|duo|elite|sharp|star|pen|office|paper|mate|classic|basic|basics|premium|professional|
select|simple|pure|natural|organic|essential|beauty|color|colors|art|home|style|design|smart|
ultra|super|max|plus|pro|one|best|first|original|modern|nature|true|real|royal|golden|crystal|
diamond|pearl|silk|rose|blue|black|white|red|green|gold|silver|ivory|coral|sun|moon|blue moon|
glamour|secret|signature|advanced|perfect|fresh|clean|dry|fine|bold|clear|soft|smooth|swift|
school|teacher|student|kids|baby|men|women|lady|girl|boy|sponge|brush|comb|pad|tape|label|case|box|
""")) | {"u", "c", "s", "m", "t", "p", "b", "e", "x", "it", "up", "all", "at", "in", "on", "no", "go"}

SIZES: Final = _words("""
mini|small|large|extra large|xl|xxl|jumbo|travel size|full size|standard size|extra wide|
""")

#: Phrases that contain a lexicon word but are not entities ("Assorted Sizes" is not a colour).
STOP_PHRASES: Final = _words("""
assorted sizes|assorted styles|assorted designs|assorted shapes|assorted patterns|colors may vary|
color may vary|colours may vary|styles may vary|gift card|thank you|happy birthday|back to school|
""")

LEXICONS: Final[dict[EntityType, tuple[str, ...]]] = {
    EntityType.PRODUCT_TYPE: PRODUCT_TYPES + INDUSTRIAL_PRODUCT_TYPES,
    EntityType.MATERIAL: MATERIALS + INDUSTRIAL_MATERIALS,
    EntityType.COLOR: COLORS,
    EntityType.FEATURE: FEATURES + INDUSTRIAL_FEATURES,
    EntityType.AUDIENCE: AUDIENCES + INDUSTRIAL_AUDIENCES,
    EntityType.INGREDIENT: INGREDIENTS,
    EntityType.SIZE: SIZES,
}

#: When one phrase is in several lexicons: the first type listed wins.
TYPE_PRIORITY: Final[tuple[EntityType, ...]] = (
    EntityType.BRAND, EntityType.COLOR, EntityType.INGREDIENT, EntityType.PRODUCT_TYPE, EntityType.MATERIAL,
    EntityType.AUDIENCE, EntityType.FEATURE, EntityType.SIZE,
)
