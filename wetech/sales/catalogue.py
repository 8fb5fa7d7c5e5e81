"""The service catalogue: what WeTech sells and at what price (before VAT), in English and
Kiswahili.

The catalogue is staff's to edit in the admin (both languages side by side); `catalogue_load`
writes a whole catalogue at once (the demo one for `make run`, or a company's own list) without
duplicating what exists. A translated field (`name`, `summary`, `description`, `price_note`) is
given as {"en": ..., "sw": ...}, or as a plain string for English alone (the Kiswahili pages then
show the English).
"""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import translation
from modeltranslation.translator import translator

from wetech.models import Service
from wetech.money import DEFAULT_CURRENCY

# WeTech's demo catalogue: realistic Tanzanian prices, one service priced on request.
DEMO_CATALOGUE = [
    {
        "slug": "business-website",
        "name": {"en": "Business website", "sw": "Tovuti ya biashara"},
        "summary": {
            "en": "A fast, mobile-friendly website of up to 8 pages, ready in three weeks.",
            "sw": "Tovuti ya haraka inayofunguka vizuri kwenye simu, hadi kurasa 8, tayari ndani "
            "ya wiki tatu.",
        },
        "description": {
            "en": (
                "We design and build your company website: home, services, about, contact and up "
                "to four more pages, in English and Swahili if you wish.\n\n"
                "Includes a contact form, Google Maps location, basic search-engine setup, a year "
                "of hosting on our servers and a training session so your team can update the "
                "content."
            ),
            "sw": (
                "Tunabuni na kutengeneza tovuti ya kampuni yako: ukurasa wa mwanzo, huduma, "
                "kuhusu sisi, mawasiliano na hadi kurasa nne zaidi, kwa Kiswahili na Kiingereza "
                "ukipenda.\n\n"
                "Inajumuisha fomu ya mawasiliano, ramani ya Google ya mahali ulipo, maandalizi ya "
                "msingi ya kuonekana kwenye Google, mwaka mmoja wa kuhifadhiwa kwenye seva zetu na "
                "mafunzo ili timu yako iweze kubadilisha maudhui yenyewe."
            ),
        },
        "price": Decimal("1500000"),
        "price_note": {"en": "one-off", "sw": "malipo ya mara moja"},
    },
    {
        "slug": "online-shop",
        "name": {"en": "Online shop", "sw": "Duka la mtandaoni"},
        "summary": {
            "en": "Sell online with card and mobile-money checkout (M-Pesa, Airtel Money, Mixx).",
            "sw": "Uza mtandaoni, wateja wakilipa kwa kadi au kwa simu (M-Pesa, Airtel Money, "
            "Mixx).",
        },
        "description": {
            "en": (
                "An online shop with your catalogue, stock levels, delivery zones for Dar es "
                "Salaam and the regions, and checkout by card or mobile money.\n\n"
                "Includes product import from a spreadsheet, order emails and an admin your staff "
                "can use from a phone."
            ),
            "sw": (
                "Duka la mtandaoni lenye bidhaa zako, idadi ya mzigo uliopo, maeneo ya kusafirisha "
                "ndani ya Dar es Salaam na mikoani, na malipo kwa kadi au kwa simu.\n\n"
                "Linajumuisha kuingiza bidhaa kutoka kwenye Excel, barua pepe za oda na ukurasa wa "
                "usimamizi ambao wafanyakazi wako wanaweza kuutumia kwenye simu."
            ),
        },
        "price": Decimal("3800000"),
        "price_note": {"en": "one-off", "sw": "malipo ya mara moja"},
    },
    {
        "slug": "mobile-app",
        "name": {"en": "Mobile app (Android and iOS)", "sw": "Programu ya simu (Android na iOS)"},
        "summary": {
            "en": "A custom app for your customers or field staff, built and published for you.",
            "sw": "Programu maalum kwa wateja wako au wafanyakazi wa nje ya ofisi, tunaitengeneza "
            "na kuichapisha kwa ajili yako.",
        },
        "description": {
            "en": (
                "From a short discovery workshop to a published app on Google Play and the App "
                "Store. Works offline where the network is patchy and syncs when it is back.\n\n"
                "Every app is different, so we quote after a call."
            ),
            "sw": (
                "Kuanzia warsha fupi ya kuelewa mahitaji yako hadi programu iliyochapishwa kwenye "
                "Google Play na App Store. Inafanya kazi hata bila intaneti pale mtandao "
                "unaposumbua, na inajisasisha intaneti ikirudi.\n\n"
                "Kila programu ni tofauti, kwa hiyo tunakupa bei baada ya mazungumzo ya simu."
            ),
        },
        "price": None,
        "price_note": {"en": "", "sw": ""},
    },
    {
        "slug": "web-hosting",
        "name": {"en": "Web hosting and email", "sw": "Uhifadhi wa tovuti na barua pepe"},
        "summary": {
            "en": "Hosting for your site with daily backups, SSL and 10 business mailboxes.",
            "sw": "Tovuti yako kwenye seva zetu, nakala rudufu kila siku, SSL na anwani 10 za "
            "barua pepe za biashara.",
        },
        "description": {
            "en": (
                "Your website and email on monitored servers with daily off-site backups, a free "
                "SSL certificate and 10 mailboxes on your own domain.\n\n"
                "Support by phone and WhatsApp during office hours."
            ),
            "sw": (
                "Tovuti na barua pepe zako kwenye seva zinazofuatiliwa saa zote, nakala rudufu za "
                "kila siku zinazotunzwa mahali pengine, cheti cha SSL bure na anwani 10 za barua "
                "pepe kwenye jina la kikoa chako.\n\n"
                "Msaada kwa simu na WhatsApp wakati wa saa za kazi."
            ),
        },
        "price": Decimal("450000"),
        "price_note": {"en": "per year", "sw": "kwa mwaka"},
    },
    {
        "slug": "it-support",
        "name": {"en": "IT support plan", "sw": "Huduma za TEHAMA kila mwezi"},
        "summary": {
            "en": "Monthly support for up to 15 computers, your network and printers.",
            "sw": "Huduma ya kila mwezi kwa hadi kompyuta 15, mtandao wa ofisi na printa.",
        },
        "description": {
            "en": (
                "A technician on call during office hours, a monthly visit, antivirus and updates "
                "managed for you, and help with Wi-Fi, printers and accounts.\n\n"
                "Same-day visits within Dar es Salaam."
            ),
            "sw": (
                "Fundi anayepatikana kwa simu wakati wa saa za kazi, ziara moja kila mwezi, "
                "antivirusi na masasisho tunayoyasimamia sisi, na msaada wa Wi-Fi, printa na "
                "akaunti.\n\n"
                "Tunafika siku hiyo hiyo ndani ya Dar es Salaam."
            ),
        },
        "price": Decimal("350000"),
        "price_note": {"en": "per month", "sw": "kwa mwezi"},
    },
    {
        "slug": "domain-registration",
        "name": {"en": "Domain registration (.co.tz)", "sw": "Usajili wa jina la kikoa (.co.tz)"},
        "summary": {
            "en": "Your .co.tz or .com domain registered and renewed for you.",
            "sw": "Tunasajili na kuhuisha jina la kikoa lako la .co.tz au .com kwa niaba yako.",
        },
        "description": {
            "en": (
                "We register the domain in your company's name, set up its DNS and remind you "
                "before it expires."
            ),
            "sw": (
                "Tunasajili jina la kikoa kwa jina la kampuni yako, tunaweka DNS yake na "
                "tunakukumbusha kabla muda wake haujaisha."
            ),
        },
        "price": Decimal("60000"),
        "price_note": {"en": "per year", "sw": "kwa mwaka"},
    },
]


def _service_fields(entry: dict) -> dict:
    """The model's fields for one catalogue entry: {"name": {"en": .., "sw": ..}} becomes
    name (English), name_en and name_sw; a plain string is the English."""
    translated = translator.get_options_for_model(Service).fields
    default = settings.MODELTRANSLATION_DEFAULT_LANGUAGE
    fields = {}
    for key, value in entry.items():
        if key == "slug":
            continue
        if key in translated:
            texts = value if isinstance(value, dict) else {default: value}
            fields[key] = texts.get(default, "")
            for language, text in texts.items():
                fields[f"{key}_{language}"] = text
        else:
            fields[key] = value
    return fields


@transaction.atomic
def catalogue_load(*, entries: list[dict]) -> tuple[int, int]:
    """Create or update each entry (matched by slug), active and shown in the list's order;
    returns (created, updated). Running it again changes nothing but what was edited since."""
    created = updated = 0
    # The plain field (`name`) writes the active language's column: English, whoever runs this.
    with translation.override(settings.MODELTRANSLATION_DEFAULT_LANGUAGE):
        for position, entry in enumerate(entries, start=1):
            defaults = _service_fields(entry)
            defaults.update({"order": position * 10, "active": True})
            defaults.setdefault("currency", DEFAULT_CURRENCY)
            _, was_created = Service.objects.update_or_create(slug=entry["slug"], defaults=defaults)
            created += was_created
            updated += not was_created
    return created, updated
