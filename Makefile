# The two commands of the README. Both install what they need first (hack/setup-host), the
# Python packages into the project's own virtualenv (.venv).
.PHONY: up test

RUNTIME ?= wasmedge

up:
	bash hack/setup-host lab
	.venv/bin/invoke lab.up --runtime $(RUNTIME)

test:
	bash hack/setup-host
	bash hack/run-tests
