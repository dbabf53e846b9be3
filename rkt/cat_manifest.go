package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

func newCatManifestCmd(g *globalFlags) *cobra.Command {
	var (
		pretty   bool
		uuidFile string
	)
	cmd := &cobra.Command{
		Use:   "cat-manifest UUID",
		Short: "Inspect and print the pod manifest",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			uuids, err := podUUIDs(args, uuidFile, true)
			if err != nil {
				return err
			}
			dir, err := g.dataDir(cmd)
			if err != nil {
				return err
			}
			p, err := pod.Get(dir, uuids[0])
			if err != nil {
				return err
			}
			_, raw, err := p.Manifest()
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if pretty {
				err = json.Indent(&buf, raw, "", "\t")
			} else {
				err = json.Compact(&buf, raw)
			}
			if err != nil {
				return fmt.Errorf("formatting the manifest of pod %s: %w", p.UUID, err)
			}
			buf.WriteByte('\n')
			_, err = g.stdout.Write(buf.Bytes())
			return err
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty-print", true, "apply indent to format the output")
	uuidFileFlag(cmd, &uuidFile)
	return cmd
}
