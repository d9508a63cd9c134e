package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tokenFile is the read API token kept under --data, so a restart keeps the dashboard's
// cookie and every script working.
const tokenFile = "api-token"

// apiToken is cfg.APIToken when given (--api-token wins), else the token kept under
// DataDir, else a new one, kept there for the next start.
func apiToken(cfg Config) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	if cfg.DataDir == "" {
		return randomToken(), nil
	}
	path := filepath.Join(cfg.DataDir, tokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("--data: reading the API token: %w", err)
	}
	tok := randomToken()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("--data: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("--data: keeping the API token: %w", err)
	}
	return tok, nil
}
