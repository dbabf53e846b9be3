//go:build !gendocs

package main

import "github.com/spf13/cobra"

// buildOnlyCommands: none in the rkt binary (see gendocs.go).
func buildOnlyCommands(*globalFlags) []*cobra.Command { return nil }
