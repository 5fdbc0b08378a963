"""Blueprints, as the seed's §2.7 lays them out: one module per blueprint."""
