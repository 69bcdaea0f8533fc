"""Contracts shared by the gateway, the workers, storage and the tests.

`extraction` is the public result schema (rxlab.extraction/v1); `stages` holds the stage outputs that travel
between workers through the database; `api` the HTTP request/response bodies; `names` the task and queue names.
"""
