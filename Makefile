# The two commands of the README. Both install what they need first (hack/setup-host).
.PHONY: up test

RUNTIME ?= wasmedge

up:
	bash hack/setup-host
	invoke lab.up --runtime $(RUNTIME)

test:
	bash hack/setup-host
	bash hack/run-tests
