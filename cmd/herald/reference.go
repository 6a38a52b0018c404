package main

import (
	"fmt"
	"io"
	"strings"
)

//go:generate go test -run TestConfigurationReference -update .

// writeReference writes docs/configuration.md from the table of settings.
func writeReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated from cmd/herald/settings.go by "go generate ./cmd/herald"; do not edit by hand. -->

Every setting is a flag of ` + "`herald serve`" + ` (and ` + "`herald migrate`" + `) and a
` + "`HERALD_*`" + ` environment variable: the flag wins, then the variable, then the
default. ` + "`herald serve -h`" + ` shows the same help. The effective configuration is
logged at start (` + "`starting herald`" + `, one attribute per setting), secrets masked.

A zero means the same everywhere. These settings are off at ` + "`0`" + `, and every
part of Herald that reads them takes the zero so:
`)
	for _, s := range settings {
		if s.off != "" {
			fmt.Fprintf(&b, "\n- `%s=0` %s", s.env, s.off)
		}
	}
	b.WriteString(`

Every other duration and count refuses ` + "`0`" + `. Durations are Go durations
(` + "`90s`, `5m`, `720h`" + `).
`)
	group := ""
	for _, s := range settings {
		if s.group != group {
			group = s.group
			fmt.Fprintf(&b, "\n## %s\n\n| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n", group)
		}
		vars := "`" + s.env + "`"
		if s.alias != "" {
			vars += " / `" + s.alias + "`"
		}
		def := ""
		switch {
		case s.def != "":
			def = "`" + s.def + "`"
		case s.unset != "":
			def = "(" + s.unset + ")"
		}
		// The help is plain text (-h shows it); more is markdown.
		meaning := strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s.help)
		if s.mask != nil {
			meaning += "; masked in the startup log"
		}
		if s.more != "" {
			meaning += ". " + s.more
		}
		fmt.Fprintf(&b, "| %s | `-%s` | %s | %s |\n", vars, s.flag, def, strings.ReplaceAll(meaning, "|", `\|`))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
