"""Built-in lexicons for the pattern-and-lexicon extractor: office supplies and beauty products.

Written by hand from the vocabulary of the amazon-office titles and the amazon-beauty titles and categories
(the most frequent words of each, read and sorted by type). Brand names are not here: they come from the
graph's Brand nodes (the catalogs' structured brand field) at run time. Matching is on word sequences, case
and plural insensitive (``gel pens`` matches ``gel pen``), longest match first.
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
    EntityType.PRODUCT_TYPE: PRODUCT_TYPES,
    EntityType.MATERIAL: MATERIALS,
    EntityType.COLOR: COLORS,
    EntityType.FEATURE: FEATURES,
    EntityType.AUDIENCE: AUDIENCES,
    EntityType.INGREDIENT: INGREDIENTS,
    EntityType.SIZE: SIZES,
}

#: When one phrase is in several lexicons: the first type listed wins.
TYPE_PRIORITY: Final[tuple[EntityType, ...]] = (
    EntityType.BRAND, EntityType.COLOR, EntityType.INGREDIENT, EntityType.PRODUCT_TYPE, EntityType.MATERIAL,
    EntityType.AUDIENCE, EntityType.FEATURE, EntityType.SIZE,
)
