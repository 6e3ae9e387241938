"""One module per command group; each has ``register(app)`` adding its commands to the ``cartograph`` app."""
