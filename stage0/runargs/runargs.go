// Package runargs is the command-line grammar of `rkt run` and `rkt
// prepare` (rkt v1.30's), read with pflag:
//
//	[pod flags] IMAGE [image flags] [-- ARGS... [---]] IMAGE [image flags] ...
//
// The command's own flag set (cobra's, with interspersing off) reads the
// flags before the first image; ParseImages reads the rest, one image at a
// time, with a second flag set that holds the same flags (pflag.Flag
// values are shared, so a flag means the same thing wherever it is given):
//
//   - Per-image flags (scope App) apply to the image before them; given
//     before any image they are a usage error. AppOrPod flags (--mount)
//     given before the first image apply to every app.
//   - "--" after an image starts that image's arguments; "---" ends them
//     (or the end of the vector does). Everything between is an argument,
//     "--" included.
//   - Pod flags, and the CLI's persistent flags, may come anywhere outside
//     an argument list. A flag of the other command (RunOnly in prepare,
//     PrepareOnly in run) is hidden and refused.
//   - Booleans take "--flag" or "--flag=true|false"; flags with a NoOptDef
//     (--net) take "--flag" alone as that value and never the next word.
//
// The values (what a flag does to the pod being described) are the
// caller's: stage0/podspec supplies them as Flags. Errors are pflag's,
// turned by FlagError into rkt 1.30's texts; every one matches ErrUsage,
// except the Set errors of a value that are not usage errors (reading a
// file named by a flag).
package runargs

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/spf13/pflag"
)

// Scope says where a flag may be given.
type Scope int

const (
	Pod         Scope = iota // run and prepare, anywhere outside argument lists
	App                      // after an image, for that image
	AppOrPod                 // after an image for it; before the first, for every app
	RunOnly                  // run only (prepare leaves these to run-prepared)
	PrepareOnly              // prepare only
)

// Flag is one flag of the grammar and what it does.
type Flag struct {
	Name, Usage string
	Scope       Scope
	Bool        bool   // takes no value, or =true|false; Set gets "true" or "false"
	NoOptDef    string // the value of the bare "--flag", for flags whose value is optional
	Hidden      bool   // deprecated aliases: accepted, not listed
	Set         func(string) error
}

// Images receives the images and their arguments, in order.
type Images interface {
	AddImage(image string)
	AddArgs(args []string)
	// InImage reports whether an image has been given yet.
	InImage() bool
}

// ErrUsage is matched (errors.Is) by every error in a command line.
var ErrUsage = errors.New("invalid usage")

// UsageError is a command-line error said in rkt 1.30's words. It
// matches ErrUsage, and Err when set.
type UsageError struct {
	Msg string
	Err error
}

func (e *UsageError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrUsage) true.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// Unwrap returns the error the message quotes, if any.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// value is a Flag bound to a command and its images: Set checks the scope
// and the boolean syntax, then calls the Flag's Set.
type value struct {
	f       Flag
	command string
	im      Images
}

func (v *value) String() string { return "" }

func (v *value) Type() string {
	if v.f.Bool {
		return "bool"
	}
	return "string"
}

func (v *value) Set(s string) error {
	name := v.f.Name
	switch v.f.Scope {
	case App:
		if !v.im.InImage() {
			return Usagef("--%s must follow an image", name)
		}
	case RunOnly:
		if v.command != "run" {
			return Usagef("unknown flag: --%s (%s does not take it; give it to run-prepared)", name, v.command)
		}
	case PrepareOnly:
		if v.command != "prepare" {
			return Usagef("unknown flag: --%s", name)
		}
	}
	if v.f.Bool {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return Usagef("invalid argument %q for --%s: want true or false", s, name)
		}
		s = strconv.FormatBool(b)
	}
	return v.f.Set(s)
}

// Register adds flags to fs, for command ("run" or "prepare"): flags of
// the other command are hidden, and refuse any value.
func Register(fs *pflag.FlagSet, command string, flags []Flag, im Images) {
	for _, f := range flags {
		fl := fs.VarPF(&value{f: f, command: command, im: im}, f.Name, "", f.Usage)
		switch {
		case f.Bool:
			fl.NoOptDefVal = "true"
		case f.NoOptDef != "":
			fl.NoOptDefVal = f.NoOptDef
		}
		other := f.Scope == RunOnly && command != "run" || f.Scope == PrepareOnly && command != "prepare"
		fl.Hidden = f.Hidden || other
	}
}

// Parse reads a whole command line with fs, which holds the flags
// (Register) and any others accepted anywhere.
func Parse(fs *pflag.FlagSet, args []string, im Images) error {
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return FlagError(err)
	}
	return ParseImages(fs, fs.Args(), fs.ArgsLenAtDash() == 0, im)
}

// ParseImages reads what follows the leading flags that fs read: args
// starts with the first image. dashFirst reports that "--" ended the
// leading flags (cobra: cmd.ArgsLenAtDash() == 0), which is an error:
// arguments belong to an image. A request for help gives pflag.ErrHelp.
func ParseImages(fs *pflag.FlagSet, args []string, dashFirst bool, im Images) error {
	if dashFirst {
		return Usagef("arguments (--) must follow an image")
	}
	after := &pflag.FlagSet{}
	after.SetInterspersed(false)
	after.SetOutput(io.Discard)
	after.Usage = func() {}
	fs.VisitAll(func(f *pflag.Flag) {
		// Help after an image is pflag's ErrHelp, for the caller to show.
		if f.Name != "help" {
			after.AddFlag(f)
		}
	})
	for len(args) > 0 {
		if args[0] == "" {
			return Usagef("empty image name")
		}
		im.AddImage(args[0])
		args = args[1:]
		// The image's flags, then its arguments (-- ... ---), then maybe
		// more flags and arguments for it, until the next image.
		for {
			// Init resets what ArgsLenAtDash reports, which Parse keeps.
			after.Init("image", pflag.ContinueOnError)
			if err := after.Parse(args); err != nil {
				return FlagError(err)
			}
			args = after.Args()
			if after.ArgsLenAtDash() != 0 {
				break
			}
			end := slices.Index(args, "---")
			if end < 0 {
				im.AddArgs(args)
				return nil
			}
			im.AddArgs(args[:end])
			args = args[end+1:]
		}
	}
	return nil
}

// FlagError turns an error of pflag's parsing into rkt 1.30's: a value's
// own error as its Set said it (for another's value, such as
// --insecure-options: "invalid argument %q for --NAME: ..."), "---" out of
// place explained, and every other one a UsageError with pflag's message
// ("unknown flag: --x", "flag needs an argument: --exec", which are
// rkt's). pflag.ErrHelp is returned as is.
func FlagError(err error) error {
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return err
	}
	var inv *pflag.InvalidValueError
	if errors.As(err, &inv) {
		if _, ours := inv.GetFlag().Value.(*value); ours {
			return inv.Unwrap()
		}
		why := inv.Unwrap()
		if inv.GetFlag().Value.Type() == "bool" {
			why = errors.New("want true or false")
		}
		return &UsageError{Msg: fmt.Sprintf("invalid argument %q for --%s: %v", inv.GetValue(), inv.GetFlag().Name, why), Err: err}
	}
	var syn *pflag.InvalidSyntaxError
	if errors.As(err, &syn) {
		if syn.GetSpecifiedFlag() == "---" {
			return Usagef("--- must end the arguments of an image, started by --")
		}
		return Usagef("unknown flag: %s", syn.GetSpecifiedFlag())
	}
	var u *UsageError
	if errors.As(err, &u) {
		return err
	}
	return &UsageError{Msg: err.Error(), Err: err}
}
