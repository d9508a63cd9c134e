package faulttest

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
	qlocal "github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/tasks"
)

// dyingStore is the record store of a process that dies at its first write of kind: that
// write and every later one never happen.
type dyingStore struct {
	greep.RecordStore
	kind string
	dead atomic.Bool
}

var errDead = errors.New("the process is dead")

func (s *dyingStore) PutRecord(ctx context.Context, kind, id string, data []byte) error {
	if kind == s.kind {
		s.dead.Store(true)
	}
	if s.dead.Load() {
		return errDead
	}
	return s.RecordStore.PutRecord(ctx, kind, id, data)
}

func (s *dyingStore) CreateRecord(ctx context.Context, kind, id string, data []byte) error {
	if s.dead.Load() {
		return errDead
	}
	return s.RecordStore.CreateRecord(ctx, kind, id, data)
}

func (s *dyingStore) DeleteRecord(ctx context.Context, kind, id string) error {
	if s.dead.Load() {
		return errDead
	}
	return s.RecordStore.DeleteRecord(ctx, kind, id)
}

func (s *dyingStore) DeleteRecords(ctx context.Context, kind string, ids []string) error {
	if s.dead.Load() {
		return errDead
	}
	return s.RecordStore.DeleteRecords(ctx, kind, ids)
}

// A process killed inside Enqueue, after the task's name was recorded and before the task
// was: the Enqueue never returned nil, so its caller (a task that runs again after the
// restart) enqueues the task again, and that task must run. This is what greep local
// killed mid-sync met: a groups page re-run after the kill re-enqueued its member tasks,
// and the ones whose names the killed process had recorded were dropped as duplicates, so
// the sync never finished.
func TestEnqueueCutOffByAKillIsNotLost(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	qcfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	task := queue.Task{Queue: tasks.QueueDirectorySweep, Name: "members-g1", Path: "/tasks/directory/members", Body: []byte(`{}`)}

	// First life: dies at the task's own write (the queue's kind for stored tasks).
	dying := &dyingStore{RecordStore: store, kind: "queue-task"}
	d1, err := qlocal.Open(ctx, dying, qcfg, qlocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d1.Enqueue(ctx, task); err == nil {
		t.Fatal("Enqueue succeeded in a process that died during it")
	}
	_ = d1.Stop(ctx)

	// Second life on the same file: the caller enqueues again, and the task runs.
	ran := make(chan struct{}, 1)
	d2, err := qlocal.Open(ctx, store, qcfg, qlocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Enqueue(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ran <- struct{}{}:
		default:
		}
	})); err != nil {
		t.Fatal(err)
	}
	defer d2.Stop(ctx)
	select {
	case <-ran:
	case <-time.After(10 * time.Second): // it runs at once when queued
		t.Fatalf("the task enqueued again after the kill never ran (queues %+v): its name, recorded by the killed Enqueue, swallowed it", d2.Stats())
	}
}
