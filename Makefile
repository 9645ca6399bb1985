# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
PORT   ?= 8080
STAMP  := $(VENV)/.installed

.PHONY: install serve train test lint format openapi env-example clean container-test deploy trigger bench

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

# --- container and deployment ------------------------------------------------------------------
REGION        ?= asia-southeast2
SERVICE       ?= soulsync-model-endpoint
GITHUB_OWNER  ?= soulsync
GITHUB_REPO   ?= soulsync-model-service

container-test:  ## build the image, run it, check readiness, contract, non-root, clean log, SIGTERM
	scripts/container-test.sh

deploy:  ## test, build, push and deploy from this checkout through Cloud Build
	gcloud builds submit --config cloudbuild.yaml \
	  --substitutions=COMMIT_SHA=$$(git rev-parse HEAD),_REGION=$(REGION),_SERVICE=$(SERVICE) .

trigger:  ## create the Cloud Build trigger that deploys every push to main
	gcloud builds triggers create github --name=soulsync-model-endpoint \
	  --region=$(REGION) --repo-owner=$(GITHUB_OWNER) --repo-name=$(GITHUB_REPO) \
	  --branch-pattern='^main$$' --build-config=cloudbuild.yaml

env-example: $(STAMP)  ## regenerate .env.example from soulsync/config.py
	$(BIN)/python -m soulsync.config > .env.example

bench: $(STAMP)  ## benchmark the service (LiteRT and Keras) against a bare Flask floor, with wrk
	@command -v wrk >/dev/null || { echo "installing wrk from Debian"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py
