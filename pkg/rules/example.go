package rules

import (
	_ "embed"
	"fmt"
)

// example is deploy/remediation.yaml, embedded so greep local has its rules wherever the
// binary runs; a test keeps the two files identical.
//
//go:embed example.yaml
var example []byte

// Example returns the shipped example rules (deploy/remediation.yaml): what greep local
// uses when --rules is not given.
func Example() *Config {
	c, err := Parse(example)
	if err != nil {
		panic(fmt.Sprintf("rules: the embedded example is invalid: %v", err)) // caught by TestExampleIsTheShippedFile
	}
	return c
}
