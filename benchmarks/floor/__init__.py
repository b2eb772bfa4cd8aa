"""The framework floor: a trivial Django view behind the product's own settings and
middleware, served by the same gunicorn.conf.py. The most any view can do on this machine.

    gunicorn -c gunicorn.conf.py benchmarks.floor.wsgi:application
    (DJANGO_SETTINGS_MODULE=benchmarks.floor.settings)
"""
