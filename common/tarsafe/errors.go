package tarsafe

import "fmt"

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
