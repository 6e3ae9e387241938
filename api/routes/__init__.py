"""Route modules, one per resource; :func:`api.main.create_app` includes their routers."""
