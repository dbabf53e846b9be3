package discovery

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPageTooLarge: a discovery page went on past MaxPageSize. The whole
// discovery fails; no tag read before the cut is used.
var ErrPageTooLarge = errors.New("discovery page too large")

// Error is returned when no prefix of the name answered with the meta tag
// looked for. Attempts holds, per prefix tried, why it gave nothing.
type Error struct {
	Image    string
	Meta     string // "ac-discovery" or "ac-discovery-pubkeys"
	Attempts []Attempt
}

// Attempt is one prefix that could not be used.
type Attempt struct {
	Prefix string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "discovering %q: no %s meta tag found", e.Image, e.Meta)
	if len(e.Attempts) > 0 {
		b.WriteString(" (")
		for i, a := range e.Attempts {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: %v", a.Prefix, a.Err)
		}
		b.WriteString(")")
	}
	return b.String()
}
