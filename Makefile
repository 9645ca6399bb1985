# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
PORT   ?= 8080
STAMP  := $(VENV)/.installed

.PHONY: install serve train test lint format openapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[train,test]'
	touch $(STAMP)

install: $(STAMP)  ## development install: service, training and test tools

serve: $(STAMP)  ## run the service under gunicorn on $(PORT)
	PORT=$(PORT) $(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

train: $(STAMP)  ## retrain on $(DATA) and rewrite the shipped model in soulsync/model/
	$(BIN)/soulsync train --data $(DATA)

test: $(STAMP) lint  ## lint, then the whole test suite
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts *.egg-info

openapi: $(STAMP)  ## regenerate the committed OpenAPI document (a test fails when it is stale)
	$(BIN)/flask --app soulsync:create_app openapi write --format=json openapi/openapi.json
