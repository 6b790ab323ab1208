"""
Enterprise helpers: ``adbapi`` runs blocking DB-API 2 database calls in a
pool of threads and hands their results back to the reactor thread.
"""
