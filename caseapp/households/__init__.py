"""The household register: households, members, KK and desil history, housing surveys, imports."""
