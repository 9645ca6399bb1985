# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.11+
# with its venv module (Debian and Ubuntu: python3-venv), make, and access to PyPI.
# `make` (or `make help`) lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The survey's two CSV files, for `make train` and `make check-model` only: they are not in this
# repository (docs/model.md says where to get them); the team's machines keep them here.
DATA   ?= ../shared/data
PORT   ?= 8080
HOST   ?= 127.0.0.1
comma  := ,
# What each install has done, so that it runs again only when the locks change.
SERVING := $(VENV)/.serving-installed
DEVELOP := $(VENV)/.develop-installed
# Every install takes its exact versions from the locks in requirements/ (made from pyproject.toml
# by `make lock`, docs/dependencies.md), checks each file's hash and resolves nothing (--no-deps:
# a missing pin fails loudly). generators/lock.py check stops a stale lock first.
LOCKS      := requirements/build.txt requirements/serving.txt requirements/develop.txt \
              requirements/inputs.sha256
PIP_LOCKED := $(BIN)/pip install --quiet --require-hashes --no-deps
UV_VERSION := 0.13.9

.DEFAULT_GOAL := help
.PHONY: help serve develop test quick lint format lock train check-model generated openapi \
        settings translations bench smoke-expected types alerts apply-alerts container-test \
        pipeline release trigger promote rollback status clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' \
	  $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The serving install: what the container runs (no TensorFlow, no test tools).
$(SERVING): pyproject.toml $(LOCKS) | $(BIN)/python
	@$(PYTHON) generators/lock.py check
	$(PIP_LOCKED) -r requirements/build.txt
	$(PIP_LOCKED) -r requirements/serving.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

# The development install: serving, training (TensorFlow) and the test tools.
$(DEVELOP): pyproject.toml $(LOCKS) | $(BIN)/python
	@$(PYTHON) generators/lock.py check
	$(PIP_LOCKED) -r requirements/build.txt
	$(PIP_LOCKED) -r requirements/develop.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@ $(SERVING)

serve: $(SERVING)  ## run the service under gunicorn on http://localhost:8080 (PORT=..., HOST=0.0.0.0 to share it): Swagger UI at /docs
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

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

NO_DATA := the survey data is not in $(DATA): download its two CSV files (docs/model.md) into a folder and pass DATA=folder
train: $(DEVELOP)  ## retrain on $(DATA), rewrite the shipped model in soulsync/model/ and what follows from it: the spec, the smoke answers, the alerts
	@test -d "$(DATA)" || { echo "make train: $(NO_DATA)"; exit 2; }
	$(BIN)/soulsync train --data $(DATA)
	$(BIN)/python -m generators openapi smoke-expected alerts

check-model: $(DEVELOP)  ## retrain on $(DATA) and check the shipped model is what training makes of it
	@test -d "$(DATA)" || { echo "make check-model: $(NO_DATA)"; exit 2; }
	$(BIN)/soulsync check-model --data $(DATA)

# The Node example's packages, exactly as its package-lock.json pins them (npm registry).
NODE_EXAMPLE := examples/node
$(NODE_EXAMPLE)/node_modules/.package-lock.json: $(NODE_EXAMPLE)/package-lock.json
	cd $(NODE_EXAMPLE) && npm ci --no-audit --no-fund

# The generated files (generators/__init__.py lists them; docs/development.md, "Generated
# files"): each target below rewrites its own, `make generated` all of them, and
# tests/project/test_generated.py fails while one is stale.
generated: | $(BIN)/python  ## rewrite every generated file: the locks if pyproject.toml's dependencies moved, then all the rest
	@$(PYTHON) generators/lock.py check || $(MAKE) lock
	$(MAKE) develop $(NODE_EXAMPLE)/node_modules/.package-lock.json
	$(BIN)/python -m generators

openapi: $(DEVELOP)  ## rewrite openapi/openapi.json from the app
types: $(DEVELOP) $(NODE_EXAMPLE)/node_modules/.package-lock.json  ## rewrite the Node example's TypeScript types from openapi/openapi.json (openapi-typescript)
translations: $(DEVELOP)  ## extract the texts into soulsync/translations/messages.pot, merge it into each language's .po, compile the .mo files (pybabel)
settings: $(DEVELOP)  ## rewrite .env.example and docs/configuration.md from soulsync/config.py
smoke-expected: $(DEVELOP)  ## rewrite deploy/smoke-expected.json from the shipped model
alerts: $(DEVELOP)  ## rewrite alerts/: the SLOs and their burn-rate alerts, max-instances.json from prod's max_instances, drift-shift.json from the shipped model's card
openapi types translations settings smoke-expected alerts:
	$(BIN)/python -m generators $@

bench: $(DEVELOP)  ## the standard benches, `python -m bench standard` (docs/performance.md; COMPARE=dir: another checkout alike)
	$(BIN)/python -m bench standard $(if $(COMPARE),--compare $(COMPARE))

lock: | $(BIN)/python  ## refresh the locks in requirements/ from pyproject.toml (UPGRADE=all, or UPGRADE=name,...)
	$(PIP_LOCKED) -r requirements/build.txt
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/python generators/lock.py compile $(if $(UPGRADE),--upgrade=$(UPGRADE))

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts *.egg-info

# --- container and release (docs/deployment.md) -------------------------------------------------
# The regions, service and deployer are cloudbuild.yaml's substitutions, read from there (one
# place); PROJECT is gcloud's current project unless given.
substitution = $(shell sed -n 's/^  $(1): *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' cloudbuild.yaml)
REGION          ?= $(call substitution,_REGION)
PIPELINE_REGION ?= $(call substitution,_PIPELINE_REGION)
SERVICE         ?= $(call substitution,_SERVICE)
DEPLOYER        ?= $(call substitution,_DEPLOYER_ACCOUNT)
PROJECT         ?= $(shell gcloud config get-value project 2>/dev/null)
GITHUB_OWNER    ?= soulsync
GITHUB_REPO     ?= soulsync-model-service
# Cloud Build's region for the trigger and `make release`: global, which every project may use
# (Google restricts some projects to a few regions; the build region is not Cloud Run's). The
# GitHub connection must be in the same location.
TRIGGER_REGION  ?= global
# The approval before prod and the release hours (deploy/clouddeploy.yaml's `# gates:` lines):
# off, or on. Change it here and run `make pipeline` to keep it; the next `make pipeline` applies
# whatever this says.
GATES           ?= off
DEPLOYER_SA      = projects/$(PROJECT)/serviceAccounts/$(DEPLOYER)@$(PROJECT).iam.gserviceaccount.com
PIPELINE_FLAGS   = --delivery-pipeline=$(SERVICE) --region=$(PIPELINE_REGION) --project=$(PROJECT)
# Extra substitutions for one `make release`, e.g. SUBSTITUTIONS=_METRICS_SIDECAR=true (the next
# push from the trigger uses cloudbuild.yaml's defaults again: change those to keep a setting).
SUBSTITUTIONS   ?=
# Notification channels for `make apply-alerts` (resource names, comma-separated).
CHANNELS        ?=

container-test:  ## build the image, run it, smoke-test it, check non-root, clean log, SIGTERM
	scripts/container-test.sh

pipeline:  ## apply deploy/clouddeploy.yaml: the delivery pipeline, its targets, automations and release hours (GATES=on|off)
	@file=$$(mktemp) && python3 -m deploy.pipeline --project=$(PROJECT) --gates=$(GATES) > $$file \
	  && gcloud deploy apply --file=$$file --region=$(PIPELINE_REGION) --project=$(PROJECT); \
	  status=$$?; rm -f $$file; exit $$status

release:  ## test, build, push and release this commit by hand (Cloud Build, then Cloud Deploy: staging, then prod's canary)
	@test -z "$$(git status --porcelain)" || { echo "commit first: make release releases HEAD, and labels it with HEAD's commit"; exit 1; }
	gcloud builds submit --config=cloudbuild.yaml --project=$(PROJECT) --region=$(TRIGGER_REGION) \
	  --service-account=$(DEPLOYER_SA) \
	  --substitutions=COMMIT_SHA=$$(git rev-parse HEAD),_COMMIT_TIME=$$(git log -1 --format=%ct)$(if $(SUBSTITUTIONS),$(comma)$(SUBSTITUTIONS)) .

trigger:  ## create the global Cloud Build trigger that releases every push to main, run as the deployer
	gcloud builds triggers create github --name=$(SERVICE) --project=$(PROJECT) \
	  --region=$(TRIGGER_REGION) --repo-owner=$(GITHUB_OWNER) --repo-name=$(GITHUB_REPO) \
	  --branch-pattern='^main$$' --build-config=cloudbuild.yaml --service-account=$(DEPLOYER_SA)

promote:  ## roll a release out to prod through its canary (RELEASE=name), e.g. one held on staging
	@test -n "$(RELEASE)" || { echo "name the release: make promote RELEASE=... (make status lists them)"; exit 1; }
	gcloud deploy releases promote --release=$(RELEASE) --to-target=prod $(PIPELINE_FLAGS) --quiet

rollback:  ## cancel what is rolling out on prod, then roll prod back (deploy/rollback.py)
	python3 -m deploy.rollback --project=$(PROJECT) --region=$(PIPELINE_REGION) --pipeline=$(SERVICE) --target=prod

status:  ## what each target runs, and the newest releases and their rollouts
	gcloud deploy targets describe staging $(PIPELINE_FLAGS)
	gcloud deploy targets describe prod $(PIPELINE_FLAGS)
	gcloud deploy releases list $(PIPELINE_FLAGS) --sort-by=~createTime --limit=5 \
	  --format='table(name.basename(),createTime,labels)'

apply-alerts:  ## install alerts/'s policies and SLOs in PROJECT's Cloud Monitoring (CHANNELS=channel,...; docs/runbook.md)
	python3 -m deploy.alerts apply --project=$(PROJECT) --service=$(SERVICE) --channels=$(CHANNELS)
