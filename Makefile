# rostersync: the two commands that matter are `make demo` and `make test`.
GO       ?= go
BIN      := bin/rostersync
PKG_DIR  := dist/package
ZIP      := dist/rostersync.zip
# Packages whose tests exercise concurrency; they also run under -race.
RACE_PKGS := ./internal/queue/... ./internal/state/... ./internal/pipeline/... ./internal/localstack/... ./internal/devhost/... ./handlers/... ./internal/apply/... ./internal/reconcile/...
FUZZTIME ?= 20s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build demo test test-go race openapi-lint fmt-check vet lint fuzz bench soak package clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rostersync

## demo: run the main job on the embedded default and print a readable report
demo: build
	./$(BIN) demo

## test: every test, with Azurite started for the Table Storage contract suite
test: fmt-check vet openapi-lint
	ROSTERSYNC_REQUIRE_AZURITE=1 scripts/azurite.sh run $(MAKE) --no-print-directory test-go race

test-go:
	$(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 $(RACE_PKGS)

## openapi-lint: docs/openapi.yaml under Redocly's recommended rules
## (redocly.yaml), offline: no remote $refs, no telemetry
openapi-lint: node_modules/.bin/redocly
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint docs/openapi.yaml

# The dev tools (Redocly, Azurite), exactly as package-lock.json pins them.
node_modules/.bin/redocly: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: fmt-check vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/ncrontab
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEnvelope$$' -fuzztime $(FUZZTIME) ./handlers
	$(GO) test -run '^$$' -fuzz '^FuzzReadMatchFile$$' -fuzztime $(FUZZTIME) ./handlers
	$(GO) test -run '^$$' -fuzz '^FuzzAlias$$' -fuzztime $(FUZZTIME) ./internal/naming
	$(GO) test -run '^$$' -fuzz '^FuzzKeyRoundTrip$$' -fuzztime $(FUZZTIME) ./internal/state
	$(GO) test -run '^$$' -fuzz '^FuzzReadCSV$$' -fuzztime $(FUZZTIME) ./internal/oneroster
	$(GO) test -run '^$$' -fuzz '^FuzzCleanProperty$$' -fuzztime $(FUZZTIME) ./internal/userplan

## bench: the speed and memory figures (users, users then groups, and users
## then Teams classes, synced against Graph's limits; the $batch executor; reading a 100,000-person district;
## simulating trusts of 12,500 to 100,000 people on the embedded store, and
## 12,500 on Azurite, which scripts/azurite.sh starts for it; applying the
## same trusts into a simulated tenant)
bench:
	$(GO) test -run '^$$' -bench 'InitialUsersSync' -benchtime 1x -count 3 ./internal/e2e
	$(GO) test -run '^$$' -bench 'InitialUsersAndGroups' -benchtime 1x ./internal/e2e
	$(GO) test -run '^$$' -bench 'UsersAndClassrooms' -benchtime 1x -timeout 30m ./internal/e2e
	$(GO) test -run '^$$' -bench 'ExecuteCreates' -benchtime 1x ./internal/graph
	$(GO) test -run '^$$' -bench 'ReadDistrict' -benchtime 3x ./internal/oneroster
	scripts/azurite.sh run $(GO) test -run '^$$' -bench 'TrustSimulate' -benchtime 7x ./cmd/rostersync
	$(GO) test -run '^$$' -bench 'TrustApply' -benchtime 3x -timeout 60m ./cmd/rostersync

## soak: the longer crash test: a users apply killed at every crash point
## on a 1,650-person school (make test runs it on about 120 people)
soak:
	ROSTERSYNC_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'TestKilled|TestClassroomsKilled' -v ./internal/e2e

## package: the deployable zip for a Flex Consumption app with runtime "custom"
package:
	rm -rf $(PKG_DIR) $(ZIP)
	mkdir -p $(PKG_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o $(PKG_DIR)/rostersync ./cmd/rostersync
	cp host.json $(PKG_DIR)/
	cp -R functions/* $(PKG_DIR)/
	cd $(PKG_DIR) && zip -q -r -X ../rostersync.zip .
	@echo "wrote $(ZIP):"; unzip -l $(ZIP)

clean:
	-scripts/azurite.sh stop
	rm -rf bin dist .azurite
