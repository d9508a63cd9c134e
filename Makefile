# make test: every test, with the Datastore and Pub/Sub emulators and a throwaway slapd
# started and stopped around it; then the Datastore store's tests again on the Firestore
# emulator in Datastore mode, production's database, which locks where the legacy
# emulator does not (docs/storage.md), but for the contract's snapshot atomicity: it
# swaps large lists, which that emulator writes slowly (40 s), and the legacy run has it.
GO ?= go
TESTFLAGS ?= -race -timeout 15m
FIRESTORE_SKIP ?= ^TestContract$$/^SnapshotAtomicity$$

.PHONY: test test-short vet fmt bench build fuzz

test:
	./scripts/with-datastore-emulator.sh ./scripts/with-pubsub-emulator.sh ./scripts/with-slapd.sh $(GO) test $(TESTFLAGS) ./...
	GREEP_EMULATOR=firestore ./scripts/with-datastore-emulator.sh $(GO) test $(TESTFLAGS) -skip '$(FIRESTORE_SKIP)' ./pkg/cache/datastore

# Without the emulator and the race detector: the quick loop while editing.
test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

build:
	$(GO) build ./...

bench:
	$(GO) run ./cmd/greep bench

# Every fuzz target, one at a time with one worker, FUZZTIME each (docs/hardening.md).
FUZZTIME ?= 10m
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh
