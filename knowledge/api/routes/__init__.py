"""The content API's routes, one module per resource.

Each module adds its routes to the app itself (`app.get(...)`), not through `include_router`:
a flat route list is what routing walks fastest, and what the 405 handler reads to name every
allowed method. `create_app` adds them in one fixed order, which is the OpenAPI document's.
"""
