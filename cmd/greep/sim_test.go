package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestSimListensAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runSim(ctx, []string{"--addr", "127.0.0.1:0", "--users", "20", "--groups", "30", "--quota-per-day", "1000"}, pw)
		pw.Close()
	}()
	var url string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			url = u
			break
		}
	}
	if url == "" {
		t.Fatalf("no listening line: %v", <-done)
	}
	go io.Copy(io.Discard, pr)

	resp, err := http.Get(url + "/sim/v1/truth")
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Groups []json.RawMessage `json:"groups"`
	}
	err = json.NewDecoder(resp.Body).Decode(&truth)
	resp.Body.Close()
	if err != nil || len(truth.Groups) != 30 {
		t.Fatalf("truth: %d groups, %v", len(truth.Groups), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopping: %v", err)
	}
}

func TestSimRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--users", "-1"},
		{"--quota-per-minute", "0"},
		{"--quota-per-day", "-5"},
		{"--time-scale", "-2"},
		{"extra"},
	} {
		if err := runSim(context.Background(), args, io.Discard); err == nil {
			t.Errorf("greep sim %v: no error", args)
		}
	}
}
