package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/cache/storetest"
	"github.com/greephq/greep/pkg/greep"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) greep.Store { return memory.New() })
}

func TestIntercept(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	down := errors.New("disk on fire")
	s.Intercept(func(op string) error {
		if op == "PutRecord" {
			return down
		}
		return nil
	})
	if err := s.PutRecord(ctx, "k", "a", []byte("A")); !errors.Is(err, down) {
		t.Fatalf("intercepted PutRecord = %v, want its error", err)
	}
	if err := s.CreateRecord(ctx, "k", "b", []byte("B")); err != nil {
		t.Fatalf("CreateRecord, not intercepted: %v", err)
	}
	s.Intercept(nil)
	if err := s.PutRecord(ctx, "k", "a", []byte("A")); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.Records(ctx, "k", func(string, []byte) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("Records: %d records, %v; want a and b (the failed put stored nothing)", n, err)
	}
}
