package runargs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// images records what the grammar hands over, with the flag values set
// for each image (and "" before the first).
type images struct {
	list []string
	args map[string][]string
	set  []string // "image:flag=value"
}

func (im *images) AddImage(name string) { im.list = append(im.list, name) }
func (im *images) AddArgs(args []string) {
	cur := im.list[len(im.list)-1]
	im.args[cur] = append(im.args[cur], args...)
}
func (im *images) InImage() bool { return len(im.list) > 0 }

func (im *images) flags() []Flag {
	rec := func(name string) func(string) error {
		return func(v string) error {
			cur := ""
			if len(im.list) > 0 {
				cur = im.list[len(im.list)-1]
			}
			im.set = append(im.set, cur+":"+name+"="+v)
			return nil
		}
	}
	return []Flag{
		{Name: "exec", Scope: App, Set: rec("exec")},
		{Name: "ro", Scope: App, Bool: true, Set: rec("ro")},
		{Name: "mount", Scope: AppOrPod, Set: rec("mount")},
		{Name: "volume", Scope: Pod, Set: rec("volume")},
		{Name: "net", Scope: RunOnly, NoOptDef: "default", Set: rec("net")},
		{Name: "quiet", Scope: PrepareOnly, Bool: true, Set: rec("quiet")},
	}
}

func parse(command string, globals *pflag.FlagSet, args ...string) (*images, error) {
	im := &images{args: map[string][]string{}}
	fs := pflag.NewFlagSet(command, pflag.ContinueOnError)
	if globals != nil {
		fs.AddFlagSet(globals)
	}
	Register(fs, command, im.flags(), im)
	return im, Parse(fs, args, im)
}

func TestImagesFlagsAndArguments(t *testing.T) {
	im, err := parse("run",
		nil, "--mount=all", "--net", "a", "--exec=/a", "--ro", "--", "x", "--", "---",
		"--exec=/again", "--volume=v", "--", "y", "---", "b", "--ro=false", "--", "z")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(im.list, []string{"a", "b"}) {
		t.Errorf("images = %q", im.list)
	}
	// Flags after an image's "---" are still that image's, and a second
	// "--" appends to its arguments.
	if want := map[string][]string{"a": {"x", "--", "y"}, "b": {"z"}}; !reflect.DeepEqual(im.args, want) {
		t.Errorf("args = %q, want %q", im.args, want)
	}
	want := []string{":mount=all", ":net=default", "a:exec=/a", "a:ro=true", "a:exec=/again", "a:volume=v", "b:ro=false"}
	if !reflect.DeepEqual(im.set, want) {
		t.Errorf("flags set = %q, want %q", im.set, want)
	}
}

func TestGlobalFlagsAnywhere(t *testing.T) {
	globals := pflag.NewFlagSet("rkt", pflag.ContinueOnError)
	dir := globals.String("dir", "/var/lib/rkt", "")
	debug := globals.Bool("debug", false, "")
	if _, err := parse("run", globals, "img", "--dir=/d", "--debug"); err != nil {
		t.Fatal(err)
	}
	if *dir != "/d" || !*debug || !globals.Lookup("dir").Changed {
		t.Errorf("dir %q debug %v", *dir, *debug)
	}
	_, err := parse("run", globals, "img", "--debug=maybe")
	if !errors.Is(err, ErrUsage) || err.Error() != `invalid argument "maybe" for --debug: want true or false` {
		t.Errorf("bad global boolean: %v", err)
	}
}

func TestUsageErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		command string
		args    []string
		want    string // the whole message
	}{
		{"run", []string{"--exec=/a", "img"}, "--exec must follow an image"},
		{"run", []string{"--", "img"}, "arguments (--) must follow an image"},
		{"run", []string{"---"}, "--- must end the arguments of an image, started by --"},
		{"run", []string{"img", "---"}, "--- must end the arguments of an image, started by --"},
		{"run", []string{"img", "--", "a", "---", "---"}, "--- must end the arguments of an image, started by --"},
		{"run", []string{"img", ""}, "empty image name"},
		{"run", []string{"img", "--frob"}, "unknown flag: --frob"},
		{"run", []string{"img", "--exec"}, "flag needs an argument: --exec"},
		{"run", []string{"img", "--ro=maybe"}, `invalid argument "maybe" for --ro: want true or false`},
		{"run", []string{"--quiet", "img"}, "unknown flag: --quiet"},
		{"prepare", []string{"img", "--net=host"}, "unknown flag: --net (prepare does not take it; give it to run-prepared)"},
	} {
		_, err := parse(tc.command, nil, tc.args...)
		if !errors.Is(err, ErrUsage) || err.Error() != tc.want {
			t.Errorf("%s %q: %v, want a usage error %q", tc.command, tc.args, err, tc.want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"img", "-h"}, {"img", "-help"}} {
		if _, err := parse("run", nil, args...); !errors.Is(err, pflag.ErrHelp) {
			t.Errorf("%q: %v, want help", args, err)
		}
	}
}

// A value's own error is returned as its Set said it, usage error or not.
func TestValueErrorsPassThrough(t *testing.T) {
	io := errors.New("reading the file")
	im := &images{args: map[string][]string{}}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	Register(fs, "run", []Flag{{Name: "file", Scope: Pod, Set: func(string) error { return io }}}, im)
	if err := Parse(fs, []string{"--file=x", "img"}, im); err != io {
		t.Errorf("err = %v, want the value's own", err)
	}
}

// Flags of the other command are hidden; deprecated aliases too.
func TestRegisterHides(t *testing.T) {
	im := &images{args: map[string][]string{}}
	fs := pflag.NewFlagSet("prepare", pflag.ContinueOnError)
	Register(fs, "prepare", append(im.flags(), Flag{Name: "old", Hidden: true, Set: func(string) error { return nil }}), im)
	usage := fs.FlagUsages()
	for _, name := range []string{"--net", "--old"} {
		if strings.Contains(usage, name) {
			t.Errorf("prepare lists %s:\n%s", name, usage)
		}
	}
	if !strings.Contains(usage, "--quiet") || !strings.Contains(usage, "--exec") {
		t.Errorf("prepare does not list its flags:\n%s", usage)
	}
}
