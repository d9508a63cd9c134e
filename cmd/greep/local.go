package main

import (
	"context"
	"errors"
	"io"
)

func runLocal(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("greep local: not built yet (see the open issues)")
}
