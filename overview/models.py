"""SQL tables of the overview: patients, producer items, relations, consents, emergency openings, blocks, log."""
