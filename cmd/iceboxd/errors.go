package main

import (
	"fmt"
	"io"
)

// exitWith prints err for an operator and returns the process exit code.
// It is the one place that decides what the operator sees.
func exitWith(w io.Writer, err error) int {
	fmt.Fprintf(w, "iceboxd: %v\n", err)
	return 1
}
