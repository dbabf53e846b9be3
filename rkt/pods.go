package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// errUnprivileged is rkt's refusal of a pod command run without root.
var errUnprivileged = errors.New("cannot run as unprivileged user")

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// ensureSuperuser refuses to go on without root, where rkt did.
func ensureSuperuser() error {
	if geteuid() != 0 {
		return errUnprivileged
	}
	return nil
}

// podUUIDs returns the pods a command names: its arguments, or the UUID
// read from --uuid-file (not both). want1 asks for exactly one.
func podUUIDs(args []string, uuidFile string, want1 bool) ([]string, error) {
	switch {
	case uuidFile != "" && len(args) > 0:
		return nil, usagef("give either a UUID or --uuid-file, not both")
	case uuidFile != "":
		b, err := os.ReadFile(uuidFile)
		if err != nil {
			return nil, fmt.Errorf("reading the UUID file: %w", err)
		}
		u := strings.TrimSpace(string(b))
		if u == "" {
			return nil, fmt.Errorf("reading the UUID file %s: it is empty", uuidFile)
		}
		return []string{u}, nil
	case len(args) == 0:
		return nil, usagef("missing pod UUID")
	case want1 && len(args) > 1:
		return nil, usagef("too many arguments: one pod UUID expected")
	}
	return args, nil
}

// uuidFileFlag adds --uuid-file to cmd.
func uuidFileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "uuid-file", "", "read pod UUID from file instead of argument")
}
