"""Who sells: WeTech's name, address, contacts and tax numbers, as pages, emails and invoices
show them (settings `COMPANY_*`; a Tanzanian tax invoice must carry the seller's TIN and VRN)."""

import re
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Company:
    name: str
    address: str
    email: str
    phone: str
    # As printed: `123-456-789` and `40-012345-A` (settings checks and formats them).
    tin: str
    vrn: str

    @property
    def address_lines(self) -> list[str]:
        """The address one part a line (it is written on one line, parts separated by commas)."""
        return [part.strip() for part in self.address.split(",") if part.strip()]

    @property
    def phone_uri(self) -> str:
        """`tel:` link of the phone as written (`+255 22 200 0000` -> `tel:+255222000000`)."""
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone)


def company_get() -> Company:
    return Company(
        name=settings.COMPANY_NAME,
        address=settings.COMPANY_ADDRESS,
        email=settings.COMPANY_EMAIL,
        phone=settings.COMPANY_PHONE,
        tin=settings.COMPANY_TIN,
        vrn=settings.COMPANY_VRN,
    )
