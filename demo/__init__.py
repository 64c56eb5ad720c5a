"""The demo: a deterministic Skånekatalogen (organisation, cast, staff), synthetic patients with their producer
items, and the demo's publication rules (data/publication_rules.yaml). Only the shell (npo), bench/ and the tests
import it; no production module does (tests/test_layout.py, D-54)."""
