"""Quinto against Great Expectations, Soda Core and a hand-written scan: see bench/compare.py."""
