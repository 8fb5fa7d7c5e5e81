"""The seller's details: from settings, with the shapes pages and documents need."""

from wetech.company import company_get


def test_the_company_is_read_from_settings(settings):
    settings.COMPANY_NAME = "Kilimo Digital Ltd"
    settings.COMPANY_ADDRESS = "Plot 7,  Old Moshi Road , Arusha,"
    settings.COMPANY_PHONE = "+255 (27) 250-0000"
    settings.COMPANY_TIN = "100-200-300"
    settings.COMPANY_VRN = ""

    company = company_get()

    assert (company.name, company.tin, company.vrn) == ("Kilimo Digital Ltd", "100-200-300", "")
    assert company.address_lines == ["Plot 7", "Old Moshi Road", "Arusha"]
    assert company.phone_uri == "tel:+255272500000"
