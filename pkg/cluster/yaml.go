package cluster

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// fileError is a refusal of a file the cluster cannot honour, with where it is.
type fileError struct {
	file string
	line int
	msg  string
}

func (e *fileError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

func errAt(file string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &fileError{file: file, line: line, msg: fmt.Sprintf(format, args...)}
}

// document parses b as one YAML mapping: App Engine's files are all one.
func document(file string, b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &fileError{file: file, msg: err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil, &fileError{file: file, msg: "empty file"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errAt(file, root, "want a mapping at the top")
	}
	return root, nil
}

// entries returns a mapping's keys and values in order (nil for a node that is not one).
func entries(n *yaml.Node) (keys, values []*yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i])
		values = append(values, n.Content[i+1])
	}
	return keys, values
}

// field is the value of key in mapping n, nil if absent.
func field(n *yaml.Node, key string) *yaml.Node {
	keys, values := entries(n)
	for i, k := range keys {
		if k.Value == key {
			return values[i]
		}
	}
	return nil
}

// scalar is the string value of key in n: "" if absent, an error if not a scalar.
func scalar(file string, n *yaml.Node, key string) (string, *yaml.Node, error) {
	v := field(n, key)
	if v == nil {
		return "", n, nil
	}
	if v.Kind != yaml.ScalarNode {
		return "", v, errAt(file, v, "%s: want a single value", key)
	}
	return v.Value, v, nil
}
