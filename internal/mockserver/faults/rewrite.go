package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// The answer rewrites: a JSON merge patch (RFC 7396) and a JSON patch (RFC 6902), applied
// by evanphx/json-patch (the implementation Kubernetes uses), which keeps every value it
// does not touch as it was written, numbers included.

// checkMergePatch accepts a JSON object. (RFC 7396 allows any value, but one that is not an
// object replaces the whole answer, which Body does more plainly.)
func checkMergePatch(p json.RawMessage) error {
	if !json.Valid(p) || !bytes.HasPrefix(bytes.TrimLeft(p, " \t\r\n"), []byte("{")) {
		return errors.New(`merge_patch must be a JSON object (RFC 7396), such as {"batchtask":{"task_id":null}}`)
	}
	return nil
}

// decodeJSONPatch decodes an array of RFC 6902 operations; the library checks each one's op
// and path.
func decodeJSONPatch(p json.RawMessage) (jsonpatch.Patch, error) {
	const want = `json_patch must be an array of RFC 6902 operations, such as [{"op":"remove","path":"/task_details/0"}]`
	if !bytes.HasPrefix(bytes.TrimLeft(p, " \t\r\n"), []byte("[")) {
		return nil, errors.New(want)
	}
	patch, err := jsonpatch.DecodePatch(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", want, err)
	}
	return patch, nil
}

// rewrites reports whether the fault rewrites the platform's answer.
func (f *Fault) rewrites() bool { return len(f.MergePatch) > 0 || len(f.JSONPatch) > 0 }

// Rewrite applies MergePatch, then JSONPatch, to an answer's JSON body. It fails when the
// body is not JSON or a patch does not apply to it (a path the body does not have, a test
// that fails).
func (f *Fault) Rewrite(body []byte) ([]byte, error) {
	if !json.Valid(body) {
		return nil, errors.New("the answer is not JSON")
	}
	if len(f.MergePatch) > 0 {
		if err := checkMergePatch(f.MergePatch); err != nil {
			return nil, err
		}
		var err error
		if body, err = jsonpatch.MergePatch(body, f.MergePatch); err != nil {
			return nil, fmt.Errorf("merge_patch: %w", err)
		}
	}
	if len(f.JSONPatch) > 0 {
		patch, err := decodeJSONPatch(f.JSONPatch)
		if err != nil {
			return nil, err
		}
		opts := jsonpatch.NewApplyOptions()
		opts.EscapeHTML = false // the mock answers without HTML escaping, as the platform does
		if body, err = patch.ApplyWithOptions(body, opts); err != nil {
			return nil, fmt.Errorf("json_patch: %w", err)
		}
	}
	return body, nil
}
