package main

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the table of settings")

const referencePath = "../../docs/configuration.md"

// TestConfigurationReference fails when docs/configuration.md is not what
// the table of settings says; -update (go generate ./cmd/herald) rewrites it.
func TestConfigurationReference(t *testing.T) {
	t.Parallel()
	var want bytes.Buffer
	if err := writeReference(&want); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(referencePath, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("%s is stale: run go generate ./cmd/herald", referencePath)
	}
}
