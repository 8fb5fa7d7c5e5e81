"""The service catalogue in English and Kiswahili (django-modeltranslation, found by its name).

Each field below gets a column per language (`name_en`, `name_sw`, ...); `service.name` reads
the active language's, falling back to English when the Kiswahili one is empty. Staff edit both
in the admin; `catalogue_load` fills both. Prices are numbers and need no translation; the words
around them ("per year") are `price_note`.
"""

from modeltranslation.translator import TranslationOptions, register

from wetech.models import Service


@register(Service)
class ServiceTranslationOptions(TranslationOptions):
    fields = ("name", "summary", "description", "price_note")
