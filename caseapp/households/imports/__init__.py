"""DTSEN-style household list import: parse → validate → stage → merge (docs/import-format.md).

- :mod:`.columns`  the file layout (Indonesian headers) and code lists
- :mod:`.parse`    CSV/XLSX as a stream of rows
- :mod:`.validate` row checks and sealing (runs in worker processes)
- :mod:`.stage`    staging table (COPY on PostgreSQL) and household-level checks in SQL
- :mod:`.merge`    set-based merge into households, persons, desil and KK history
- :mod:`.engine`   one import end to end; :mod:`.jobs` the upload and the background job
"""
