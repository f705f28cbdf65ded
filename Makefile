VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint bench migrate

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py bootstrap_demo
	$(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
