package main

import (
	"context"
	"errors"
	"io"
)

func runSim(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("greep sim: not built yet (see the open issues)")
}
