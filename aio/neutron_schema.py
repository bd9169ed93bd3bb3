"""python -m aio.neutron_schema <database url>: Neutron's schema on SQLite.

Neutron's migrations alter constraints, which SQLite cannot do; the schema
is created from its models, as Neutron's own tests do, and then stamped at
the head revision. Importing Neutron monkey-patches the process with
eventlet, hence a process of its own.
"""

import sys

import sqlalchemy

from neutron.db.migration.models import head


def main(url):
    engine = sqlalchemy.create_engine(url)
    head.get_metadata().create_all(engine)
    engine.dispose()


if __name__ == '__main__':
    main(sys.argv[1])
