"""The metric vocabulary on the ground floor: the catalogue, label text and histograms.

Every layer may import it (inventory, pollers, state, exposition, report); it imports none of
them, so no import runs against the data flow (tests/unit/test_import_graph.py).
"""
