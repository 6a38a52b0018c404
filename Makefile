# Thin wrappers around the commands the README gives; `make help` lists them.
.PHONY: help run test vet bench

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## run Herald with its own PostgreSQL in ./herald-data
	go run ./cmd/herald serve

test: ## the test command CI runs
	go test ./...

vet: ## static checks CI runs
	go vet ./...

bench: ## measure ingest, delivery and latency on this machine (see docs/benchmarks.md)
	go run ./cmd/herald bench
