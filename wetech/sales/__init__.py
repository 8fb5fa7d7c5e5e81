"""Sales: the catalogue, leads and invoicing."""
