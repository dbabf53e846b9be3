package apiservice

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rkt/rkt/api/v1alpha"
)

// The journal's JSON export shows a MESSAGE that is not valid UTF-8 as an
// array of bytes, and one too big as null; GetLogs sends the bytes and
// skips the null.
func TestSendEntries(t *testing.T) {
	in := `{"MESSAGE":"first","RKT_APP":"a"}
{"MESSAGE":[104,105,255,10]}
{"MESSAGE":null}
{"__CURSOR":"x"}
{"MESSAGE":"last"}
`
	var got []string
	err := sendEntries(strings.NewReader(in), func(r *v1alpha.GetLogsResponse) error {
		got = append(got, r.GetLines()...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first", "hi\xff", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if err := sendEntries(strings.NewReader("not json\n"), func(*v1alpha.GetLogsResponse) error { return nil }); err == nil {
		t.Error("an entry that is not JSON was accepted")
	}
}

func TestJournalArgs(t *testing.T) {
	got := journalArgs("u", &v1alpha.GetLogsRequest{AppName: "web", Lines: 3, Follow: true, SinceTime: 10, UntilTime: 20})
	want := []string{"--output=json", "--no-pager", "--quiet", "RKT_POD_UUID=u", "RKT_APP=web", "--lines=3", "--since=@10", "--until=@20.999999", "--follow"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("journalctl %q, want %q", got, want)
	}
}
