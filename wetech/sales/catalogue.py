"""The service catalogue: what WeTech sells and at what price (before VAT).

The catalogue is staff's to edit in the admin; `catalogue_load` writes a whole catalogue at once
(the demo one for `make run`, or a company's own list) without duplicating what exists.
"""

from decimal import Decimal

from django.db import transaction

from wetech.models import Service
from wetech.money import DEFAULT_CURRENCY

# WeTech's demo catalogue: realistic Tanzanian prices, one service priced on request.
DEMO_CATALOGUE = [
    {
        "slug": "business-website",
        "name": "Business website",
        "summary": "A fast, mobile-friendly website of up to 8 pages, ready in three weeks.",
        "description": (
            "We design and build your company website: home, services, about, contact and up to "
            "four more pages, in English and Swahili if you wish.\n\n"
            "Includes a contact form, Google Maps location, basic search-engine setup, a year of "
            "hosting on our servers and a training session so your team can update the content."
        ),
        "price": Decimal("1500000"),
        "price_note": "one-off",
    },
    {
        "slug": "online-shop",
        "name": "Online shop",
        "summary": "Sell online with card and mobile-money checkout (M-Pesa, Airtel Money, Mixx).",
        "description": (
            "An online shop with your catalogue, stock levels, delivery zones for Dar es Salaam "
            "and the regions, and checkout by card or mobile money.\n\n"
            "Includes product import from a spreadsheet, order emails and an admin your staff "
            "can use from a phone."
        ),
        "price": Decimal("3800000"),
        "price_note": "one-off",
    },
    {
        "slug": "mobile-app",
        "name": "Mobile app (Android and iOS)",
        "summary": "A custom app for your customers or field staff, built and published for you.",
        "description": (
            "From a short discovery workshop to a published app on Google Play and the App "
            "Store. Works offline where the network is patchy and syncs when it is back.\n\n"
            "Every app is different, so we quote after a call."
        ),
        "price": None,
        "price_note": "",
    },
    {
        "slug": "web-hosting",
        "name": "Web hosting and email",
        "summary": "Hosting for your site with daily backups, SSL and 10 business mailboxes.",
        "description": (
            "Your website and email on monitored servers with daily off-site backups, a free SSL "
            "certificate and 10 mailboxes on your own domain.\n\n"
            "Support by phone and WhatsApp during office hours."
        ),
        "price": Decimal("450000"),
        "price_note": "per year",
    },
    {
        "slug": "it-support",
        "name": "IT support plan",
        "summary": "Monthly support for up to 15 computers, your network and printers.",
        "description": (
            "A technician on call during office hours, a monthly visit, antivirus and updates "
            "managed for you, and help with Wi-Fi, printers and accounts.\n\n"
            "Same-day visits within Dar es Salaam."
        ),
        "price": Decimal("350000"),
        "price_note": "per month",
    },
    {
        "slug": "domain-registration",
        "name": "Domain registration (.co.tz)",
        "summary": "Your .co.tz or .com domain registered and renewed for you.",
        "description": (
            "We register the domain in your company's name, set up its DNS and remind you "
            "before it expires."
        ),
        "price": Decimal("60000"),
        "price_note": "per year",
    },
]


@transaction.atomic
def catalogue_load(*, entries: list[dict]) -> tuple[int, int]:
    """Create or update each entry (matched by slug), active and shown in the list's order;
    returns (created, updated). Running it again changes nothing but what was edited since."""
    created = updated = 0
    for position, entry in enumerate(entries, start=1):
        defaults = {key: value for key, value in entry.items() if key != "slug"}
        defaults.update({"order": position * 10, "active": True})
        defaults.setdefault("currency", DEFAULT_CURRENCY)
        _, was_created = Service.objects.update_or_create(slug=entry["slug"], defaults=defaults)
        created += was_created
        updated += not was_created
    return created, updated
