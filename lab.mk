# Swarm lab targets; the main Makefile does `include lab.mk` and defines VENV_PY.
# The lab needs Linux and root: see docs/lab.md.

LAB_DEBS := docker.io busybox-static iproute2 openssl util-linux

.PHONY: lab lab-down lab-status lab-deps lab-demo

lab: lab-deps ## Start a detached three-node Swarm lab and print its DOCKER_HOST
	$(VENV_PY) -m lab up

lab-demo: lab-deps ## Start (or reuse) a lab with the demo services; prints DOCKER_HOST
	$(VENV_PY) -m lab up --reuse --demo

lab-down: ## Remove CLI labs and leftovers of crashed runs (labs of live processes stay)
	$(VENV_PY) -m lab down --all

lab-status: ## List the labs on this machine
	$(VENV_PY) -m lab status

lab-deps: ## Install the lab's Debian packages when root and missing
	@if ! command -v dockerd >/dev/null 2>&1 || ! busybox --list >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get install -y $(LAB_DEBS); \
		else \
			echo "lab-deps: not root; install $(LAB_DEBS) yourself" >&2; exit 1; \
		fi; \
	fi

# For `make run`: when DOCKER_HOST is unset and `$(VENV_PY) -m lab check` succeeds,
#   export DOCKER_HOST=$$($(VENV_PY) -m lab up --reuse --demo --quiet)
# then register it: `manage.py cluster add lab --url $$DOCKER_HOST`.
