"""Run with the Rucio *server* virtualenv (RUCIO_CONFIG set): create the catalogue schema, the base VO and
the root account, once. The server and client packages cannot share a venv (they pin different urllib3)."""

from rucio.db.sqla.util import build_database, create_base_vo, create_root_account

build_database()
create_base_vo()
create_root_account()
