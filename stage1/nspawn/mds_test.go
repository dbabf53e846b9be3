package main

import (
	"testing"

	"github.com/rkt/rkt/stage1/network"
)

func TestMetadataURLOn(t *testing.T) {
	const tok = "http://127.0.0.1:18112/0123abcd"
	for _, c := range []struct {
		nets    []network.NetInfo
		want    string
		changed bool
	}{
		{nil, tok, false},
		{[]network.NetInfo{{Name: "default", IP: "172.16.28.2", HostIP: "172.16.28.1"}}, "http://172.16.28.1:18112/0123abcd", true},
		// The first network with a host address wins.
		{[]network.NetInfo{{Name: "a", IP: "10.0.0.2"}, {Name: "b", IP: "10.1.0.2", HostIP: "10.1.0.1"}}, "http://10.1.0.1:18112/0123abcd", true},
		{[]network.NetInfo{{Name: "v6", HostIP: "fd00::1"}}, "http://[fd00::1]:18112/0123abcd", true},
	} {
		got, changed, err := metadataURLOn(tok, c.nets)
		if err != nil || got != c.want || changed != c.changed {
			t.Errorf("nets %+v: %q %v %v, want %q %v", c.nets, got, changed, err, c.want, c.changed)
		}
	}
}
