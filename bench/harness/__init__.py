"""The benchmark harness: processes, load generators, wrk, PostgreSQL set-up and the report.

``bench/run.py`` is the only entry point; nothing here is imported by the product.
"""
