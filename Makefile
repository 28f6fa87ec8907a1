# Everything a fresh machine needs is installed from here; each step is skipped once done.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SERVER_VENV := .venv-rucio-server
APT_PACKAGES := xrootd-server xrootd-server-plugins xrootd-scitokens-plugins xrootd-client python3-xrootd \
	gfal2 gfal2-plugin-http gfal2-plugin-xrootd gfal2-plugin-file python3-gfal2 gfal2-util-scripts davix \
	postgresql rabbitmq-server influxdb gcc g++ libc6-dev libxrootd-server-dev curl openssl util-linux chromium victoria-metrics \
	mariadb-server prometheus-pushgateway prometheus voms-clients xrootd-voms-plugins
# Debian's gfal2 and XRootD bindings are linked into both venvs (the server's for its reaper): PyPI's gfal2-python does not build against
# Debian's libgfal2 (missing gfalt_* symbols), and both are built for Python 3.11.
DEBIAN_PY_MODULES := gfal2.cpython-311-x86_64-linux-gnu.so XRootD pyxrootd

.PHONY: demo test test-serial test-fast lint bootstrap lab-up lab-down bench clean

demo: bootstrap
	$(VENV)/bin/lakeprobe lab up
	$(VENV)/bin/lakeprobe lab status
	$(PY) -m pytest suites -q -n 3 --prometheus-textfile results/lakeprobe.prom; status=$$?; \
		$(VENV)/bin/lakeprobe report; $(VENV)/bin/lakeprobe nagios --rse XRD1 --tpc-peer XRD2 | cut -c1-100; \
		$(VENV)/bin/lakeprobe lab down; exit $$status

# Everything, on two xdist workers (a test module whole on one), each against a test lab of its own.
test: bootstrap
	$(PY) -m pytest tests -n 2 --dist loadfile

# The same on one worker, in file order: to tell a module's own failure from one another module left.
test-serial: bootstrap
	$(PY) -m pytest tests

# The tests that need no lab (selection, scheduling, summary, records, classification, user mistakes, a
# lake of local directories): seconds, on two workers.
test-fast: bootstrap
	$(PY) -m pytest tests -m "not lab" -n 2 -q

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: bootstrap
	$(PY) -m bench

bootstrap: .bootstrap-apt .bootstrap-venv .bootstrap-server-venv lab/issuer/node_modules/.package-lock.json

.bootstrap-apt: Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q "ok installed" || echo $$p; done); \
	if ! command -v npm >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -n "$$missing" ]; then echo "apt-get install $$missing"; apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	touch $@

.bootstrap-venv: pyproject.toml .bootstrap-apt
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import lakeprobe" 
	site=$$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
	for m in $(DEBIAN_PY_MODULES); do ln -sfn /usr/lib/python3/dist-packages/$$m $$site/$$m; done
	$(PY) -c "import gfal2, XRootD.client, rucio.client, influxdb_client"
	touch $@

.bootstrap-server-venv: .bootstrap-apt
	test -x $(SERVER_VENV)/bin/python || python3.11 -m venv $(SERVER_VENV) || python3 -m venv $(SERVER_VENV)
	$(SERVER_VENV)/bin/pip install -q 'rucio[postgresql]==41.5.1' gunicorn 2>&1 | grep -v "^WARNING: Location" || true
	site=$$($(SERVER_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
	for m in $(DEBIAN_PY_MODULES); do ln -sfn /usr/lib/python3/dist-packages/$$m $$site/$$m; done
	$(SERVER_VENV)/bin/python -c "import gunicorn, rucio.version, gfal2"
	touch $@

lab/issuer/node_modules/.package-lock.json: lab/issuer/package-lock.json .bootstrap-apt
	cd lab/issuer && npm ci --silent --no-audit --no-fund

lab-up: bootstrap
	$(VENV)/bin/lakeprobe lab up

lab-down:
	$(VENV)/bin/lakeprobe lab down

clean: lab-down
	rm -rf $(VENV) $(SERVER_VENV) lab/issuer/node_modules .bootstrap-*
