"""Regions, agencies, the programme catalogue and referral sources: the city's reference data."""
