# Quick start: `make demo` then `make test`. Both create .venv and build the
# trained pipeline (models/pipeline) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/pipeline/meta.json
MODEL_INPUTS := models/config.cfg $(wildcard seeds/labelled/*.jsonl) $(wildcard models/gazetteer/*) \
	pipeline/training.py pipeline/entities.py pipeline/scorer.py pipeline/claims.py pipeline/frames.py \
	pipeline/arguments.py pipeline/status.py

.PHONY: demo test install model evaluate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(MODEL): $(STAMP) $(MODEL_INPUTS)
	$(BIN)/python -m pipeline.training

model: $(MODEL)

demo: $(MODEL)
	$(BIN)/supplywatch demo

test: $(MODEL)
	$(BIN)/pytest -q

evaluate: $(MODEL)
	$(BIN)/supplywatch evaluate
	$(BIN)/supplywatch evaluate --split seed

clean:
	rm -rf $(VENV) models/pipeline models/pipeline.new models/ner-training models/corpus db/*.db db/*.db-wal db/*.db-shm db/*.db.lock db/*.eml
