package tarsafe

import (
	"errors"
	"fmt"
)

// ErrLimit is matched (errors.Is) by every *LimitError.
var ErrLimit = errors.New("image exceeds a fetch limit")

// errDigests: Options.Digests do not describe the archive being extracted.
var errDigests = errors.New("the archive's regular files do not match its digests from the first pass")

// Which limit a LimitError names.
const (
	LimitSize    = "size"
	LimitEntries = "entries"
)

// LimitError is a refusal of an archive that holds more than Limits allow.
type LimitError struct {
	Limit string // LimitSize or LimitEntries
	Max   int64  // the limit
	Entry string // the entry that crossed it, when known
}

func (e *LimitError) Error() string {
	if e.Limit == LimitEntries {
		return fmt.Sprintf("%v: more than %d entries", ErrLimit, e.Max)
	}
	if e.Entry != "" {
		return fmt.Sprintf("%v: files larger than %d bytes in all (at tar entry %q, sparse files counted at full length)", ErrLimit, e.Max, e.Entry)
	}
	return fmt.Sprintf("%v: larger than %d bytes", ErrLimit, e.Max)
}

func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// EntryError is a refusal of one tar entry: the archive tried to leave the
// destination, to break the image layout, or carries an entry the extractor
// does not write. Callers match it with errors.As.
type EntryError struct {
	Name   string // the entry name as written in the archive
	Reason string // why it was refused, e.g. "name is not local"
	Err    error  // the underlying cause, if any
}

func (e *EntryError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("tar entry %q: %s: %v", e.Name, e.Reason, e.Err)
	}
	return fmt.Sprintf("tar entry %q: %s", e.Name, e.Reason)
}

func (e *EntryError) Unwrap() error { return e.Err }

func refuse(name, reason string, err error) *EntryError {
	return &EntryError{Name: name, Reason: reason, Err: err}
}
