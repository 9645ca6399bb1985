# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.11+.
# `make` (or `make help`) lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
PORT   ?= 8080
# What each install has done, so that it runs again only when the locks change.
SERVING := $(VENV)/.serving-installed
DEVELOP := $(VENV)/.develop-installed
# Every install takes its exact versions from the locks in requirements/ (made from pyproject.toml
# by `make lock`, docs/dependencies.md), checks each file's hash and resolves nothing (--no-deps:
# a missing pin fails loudly). scripts/lock.py check stops a stale lock first.
LOCKS      := requirements/build.txt requirements/serving.txt requirements/develop.txt \
              requirements/inputs.sha256
PIP_LOCKED := $(BIN)/pip install --quiet --require-hashes --no-deps
UV_VERSION := 0.13.9

.DEFAULT_GOAL := help
.PHONY: help serve develop test quick lint format lock train check-model openapi settings bench \
        container-test deploy trigger clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' \
	  $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The serving install: what the container runs (no TensorFlow, no test tools).
$(SERVING): pyproject.toml $(LOCKS) | $(BIN)/python
	@$(PYTHON) scripts/lock.py check
	$(PIP_LOCKED) -r requirements/build.txt
	$(PIP_LOCKED) -r requirements/serving.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

# The development install: serving, training (TensorFlow) and the test tools.
$(DEVELOP): pyproject.toml $(LOCKS) | $(BIN)/python
	@$(PYTHON) scripts/lock.py check
	$(PIP_LOCKED) -r requirements/build.txt
	$(PIP_LOCKED) -r requirements/develop.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@ $(SERVING)

serve: $(SERVING)  ## run the service under gunicorn on http://localhost:8080 (PORT=...): Swagger UI at /docs
	PORT=$(PORT) $(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

develop: $(DEVELOP)  ## install the development set from its lock: training, `soulsync monitor` and `recalibrate`, the test tools

test: lint  ## lint, then the whole test suite (what CI and Cloud Build run)
	$(BIN)/pytest

quick: $(DEVELOP)  ## the fast inner loop: every test but the end-to-end and slow ones
	$(BIN)/pytest -m "not e2e and not slow"

lint: $(DEVELOP)  ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEVELOP)  ## let ruff fix what it can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train: $(DEVELOP)  ## retrain on $(DATA), rewrite the shipped model in soulsync/model/ and the spec
	$(BIN)/soulsync train --data $(DATA)
	$(BIN)/soulsync openapi openapi/openapi.json

check-model: $(DEVELOP)  ## retrain on $(DATA) and check the shipped model is what training makes of it
	$(BIN)/soulsync check-model --data $(DATA)

openapi: $(DEVELOP)  ## regenerate openapi/openapi.json (a test fails while it is stale)
	$(BIN)/soulsync openapi openapi/openapi.json

settings: $(DEVELOP)  ## regenerate .env.example and docs/configuration.md from soulsync/config.py
	$(BIN)/soulsync settings env > .env.example
	$(BIN)/soulsync settings markdown > docs/configuration.md

bench: $(DEVELOP)  ## benchmark the service against a bare Flask floor, with wrk (docs/performance.md)
	@command -v wrk >/dev/null || { echo "installing wrk from Debian"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py

lock: | $(BIN)/python  ## refresh the locks in requirements/ from pyproject.toml (UPGRADE=all, or UPGRADE=name,...)
	$(PIP_LOCKED) -r requirements/build.txt
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/python scripts/lock.py compile $(if $(UPGRADE),--upgrade=$(UPGRADE))

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts *.egg-info

# --- container and deployment (docs/deployment.md) ---------------------------------------------
REGION        ?= asia-southeast2
SERVICE       ?= soulsync-model-endpoint
GITHUB_OWNER  ?= soulsync
GITHUB_REPO   ?= soulsync-model-service

container-test:  ## build the image, run it, check readiness, contract, non-root, clean log, SIGTERM
	scripts/container-test.sh

deploy:  ## test, build, push and deploy this checkout through Cloud Build
	gcloud builds submit --config cloudbuild.yaml \
	  --substitutions=COMMIT_SHA=$$(git rev-parse HEAD),_REGION=$(REGION),_SERVICE=$(SERVICE) .

trigger:  ## create the Cloud Build trigger that deploys every push to main
	gcloud builds triggers create github --name=soulsync-model-endpoint \
	  --region=$(REGION) --repo-owner=$(GITHUB_OWNER) --repo-name=$(GITHUB_REPO) \
	  --branch-pattern='^main$$' --build-config=cloudbuild.yaml
