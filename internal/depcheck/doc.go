// Package depcheck holds no code: its test checks, with `go list`, that
// the import graph keeps the layout rules of DESIGN.md (the stage line,
// what common/ may import, what each binary links). A new import that
// breaks a rule fails `go test ./...` with the rule's reason.
package depcheck
