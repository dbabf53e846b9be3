// Package acimanifest reads appc image and pod manifests from untrusted
// bytes through github.com/appc/spec/schema, first refusing the inputs
// that make that package panic.
//
// appc/spec v0.8.11 dereferences an isolator's "value" without checking
// that it is there: {"name": "resource/memory"} (or a null value) in an
// image's app, in a pod, or in a pod's app, crashes the process that
// unmarshals it. The fetcher unmarshals an image's manifest before it has
// checked the image's signature, so any image could stop rkt. Unmarshal
// decodes the isolators the way the schema will (the same decoder, the
// same field names) and refuses one without a value with
// ErrIsolatorWithoutValue before handing the bytes to the schema.
package acimanifest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/appc/spec/schema"
)

// ErrIsolatorWithoutValue is returned for an isolator without a "value"
// (or with a null one), which the appc specification requires.
var ErrIsolatorWithoutValue = errors.New("isolator without a value")

// isolators mirrors the parts of the schema's types that hold isolators.
type (
	isolator struct {
		Name  string           `json:"name"`
		Value *json.RawMessage `json:"value"`
	}
	app struct {
		Isolators []isolator `json:"isolators"`
	}
	image struct {
		App *app `json:"app"`
	}
	pod struct {
		Apps []struct {
			App *app `json:"app"`
		} `json:"apps"`
		Isolators []isolator `json:"isolators"`
	}
)

func check(isos []isolator) error {
	for _, i := range isos {
		if i.Value == nil {
			return fmt.Errorf("%w: %q", ErrIsolatorWithoutValue, i.Name)
		}
	}
	return nil
}

// UnmarshalImage unmarshals an image manifest into im.
func UnmarshalImage(data []byte, im *schema.ImageManifest) error {
	var shadow image
	// A decoding error is the schema's to report; what was decoded up to
	// it is what the schema will have looked at.
	_ = json.Unmarshal(data, &shadow)
	if shadow.App != nil {
		if err := check(shadow.App.Isolators); err != nil {
			return fmt.Errorf("app: %w", err)
		}
	}
	return im.UnmarshalJSON(data)
}

// UnmarshalPod unmarshals a pod manifest into pm.
func UnmarshalPod(data []byte, pm *schema.PodManifest) error {
	var shadow pod
	_ = json.Unmarshal(data, &shadow)
	if err := check(shadow.Isolators); err != nil {
		return err
	}
	for i, a := range shadow.Apps {
		if a.App == nil {
			continue
		}
		if err := check(a.App.Isolators); err != nil {
			return fmt.Errorf("app %d: %w", i, err)
		}
	}
	return pm.UnmarshalJSON(data)
}
