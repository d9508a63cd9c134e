package auth

import "path"

// pathMatchCheck reports a malformed pattern (path.Match only reports ErrBadPattern when
// it meets the bad part, so the pattern is tried against itself).
func pathMatchCheck(pattern string) (bool, error) {
	return path.Match(pattern, pattern)
}
