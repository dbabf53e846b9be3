package config

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoKind is returned for a configuration file without rktKind.
	ErrNoKind = errors.New(`missing "rktKind"`)
	// ErrMissingField is returned when a required field is empty; the
	// wrapping error names the field.
	ErrMissingField = errors.New("missing required field")
	// ErrStage1NameVersion is returned when a stage1 entry sets only one of
	// name and version.
	ErrStage1NameVersion = errors.New(`stage1 "name" and "version" must be set together`)
	// ErrBadValue is returned for a fetch limit that is not a valid size or
	// count; the wrapping error names the field.
	ErrBadValue = errors.New("invalid value")
)

// KindError is returned for a rktKind that does not belong in the file's
// directory.
type KindError struct {
	Kind    string
	Allowed []string
}

func (e *KindError) Error() string {
	return fmt.Sprintf("rktKind %q is not allowed here (expected %s)", e.Kind, strings.Join(e.Allowed, " or "))
}

// VersionError is returned for an unsupported rktVersion.
type VersionError struct {
	Kind, Version string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("rktKind %q: unsupported rktVersion %q (supported: \"v1\")", e.Kind, e.Version)
}

// AuthTypeError is returned for an unknown auth "type".
type AuthTypeError struct {
	Type string
}

func (e *AuthTypeError) Error() string {
	return fmt.Sprintf("unknown auth type %q (supported: basic, oauth, aws)", e.Type)
}

// DuplicateError is returned when two files of one configuration directory
// set the same key.
type DuplicateError struct {
	// Key describes what was set twice, e.g. "auth for domain example.com".
	Key string
	// First is the file that set it first.
	First string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s is already set in %s", e.Key, e.First)
}
