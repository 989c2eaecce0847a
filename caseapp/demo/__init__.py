"""Demo data: reference data, demo users and synthetic households with valid NIK/KK."""
