package iotda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
)

// MinRedactedLength is the length, in characters, from which a string sent write-only is
// redacted in what comes back. Shorter strings (and numbers, booleans and nulls, which are
// never redacted) are too common in replies to tell an echo from the rest: redacting "ON"
// or "1" would replace them in every string of the reply, and keep little of the reply.
const MinRedactedLength = 4

// Names of the attributes whose values a Redaction hides, in the order Redacted lists them.
const (
	AttrParasWO       = "paras_wo"
	AttrAuthToken     = "auth_token"
	AttrSecretKey     = "secret_key"
	AttrSecurityToken = "security_token"
)

var attributeOrder = []string{AttrParasWO, AttrAuthToken, AttrSecretKey, AttrSecurityToken}

// Redaction hides, in text that comes back from IoTDA, the values that must never come
// back: the client's credentials (a gateway or a device may echo them) and the strings of
// write-only parameters (a device may echo its command). A device's reply, an error message
// and a logged body all pass through Apply, so that such a value is never stored in state,
// shown in a diagnostic or written to a log. The zero value and nil hide nothing.
type Redaction struct {
	// secrets are the values to hide, longest first so that a value holding another is
	// replaced whole.
	secrets []secret
	// short are write-only strings below MinRedactedLength, which are only counted.
	short []string
}

type secret struct {
	value     string
	attribute string
	// forms are the ways the value may be written inside a JSON string, for text that is
	// not JSON as a whole (a cut body, an error message).
	forms []string
}

// Redacted is what Apply found and replaced.
type Redacted struct {
	// Text is the text with every secret value replaced by "***".
	Text []byte
	// Attributes names the attributes whose values were replaced (AttrParasWO, AttrAuthToken,
	// ...), each once, in a fixed order; empty when nothing was.
	Attributes []string
	// ShortEchoes counts the strings of a JSON text equal to a write-only string too short
	// to redact (see MinRedactedLength); such a string is kept.
	ShortEchoes int
}

// Redaction returns what the client hides in an answer to a request carrying writeOnlyParas,
// the JSON of write-only parameters (nil for none): its credentials, and the strings of
// writeOnlyParas from MinRedactedLength characters on. A batch task whose command carries
// write-only parameters gets its redaction here too, for the replies in its task details.
func (c *Client) Redaction(writeOnlyParas json.RawMessage) *Redaction {
	r := &Redaction{}
	if c != nil {
		r.add(AttrAuthToken, c.authToken)
		if c.signer != nil {
			r.add(AttrSecretKey, c.signer.SecretKey)
		}
		r.add(AttrSecurityToken, c.secToken)
	}
	for _, s := range stringLeaves(writeOnlyParas) {
		if utf8.RuneCountInString(s) >= MinRedactedLength {
			r.add(AttrParasWO, s)
		} else if s != "" {
			r.short = append(r.short, s)
		}
	}
	slices.SortStableFunc(r.secrets, func(a, b secret) int { return len(b.value) - len(a.value) })
	return r
}

// credentialsRedaction hides the given credentials (unnamed), for requests that carry no
// write-only parameters.
func credentialsRedaction(secrets []string) *Redaction {
	r := &Redaction{}
	for _, s := range secrets {
		r.add("", s)
	}
	slices.SortStableFunc(r.secrets, func(a, b secret) int { return len(b.value) - len(a.value) })
	return r
}

func (r *Redaction) add(attribute, value string) {
	if value == "" || slices.ContainsFunc(r.secrets, func(s secret) bool { return s.value == value }) {
		return
	}
	r.secrets = append(r.secrets, secret{value: value, attribute: attribute, forms: escapedForms(value)})
}

// Apply returns text with every secret value replaced by "***". In valid JSON it looks inside
// every string (object keys included) as decoded, so that an echo written with escapes
// (`\u0070sk`, `\/`) is found as well, and rewrites only the strings that held one; the
// rest of the text is kept byte for byte. Text that is not JSON as a whole has every value
// replaced as written and in its usual JSON-escaped forms.
func (r *Redaction) Apply(text []byte) Redacted {
	out := Redacted{Text: text}
	if r == nil || (len(r.secrets) == 0 && len(r.short) == 0) {
		return out
	}
	found := map[string]bool{}
	rewritten, isJSON := jsonscan.RewriteStrings(text, func(s string) (string, bool) {
		if slices.Contains(r.short, s) {
			out.ShortEchoes++
		}
		changed := false
		for _, sec := range r.secrets {
			if strings.Contains(s, sec.value) {
				s, changed = strings.ReplaceAll(s, sec.value, masked), true
				found[sec.attribute] = true
			}
		}
		return s, changed
	})
	if isJSON {
		out.Text = rewritten
	} else {
		for _, sec := range r.secrets {
			for _, form := range sec.forms {
				if bytes.Contains(out.Text, []byte(form)) {
					out.Text = bytes.ReplaceAll(out.Text, []byte(form), []byte(masked))
					found[sec.attribute] = true
				}
			}
		}
	}
	for _, a := range attributeOrder {
		if found[a] {
			out.Attributes = append(out.Attributes, a)
		}
	}
	return out
}

// String is Apply for a message.
func (r *Redaction) String(s string) string {
	return string(r.Apply([]byte(s)).Text)
}

// trimStart drops a tail of s that is the start of a secret value in any of its forms: a
// text cut off in the middle of a value ends with its start, which Apply cannot recognize.
func (r *Redaction) trimStart(s string) string {
	if r == nil {
		return s
	}
	var all []string
	for _, sec := range r.secrets {
		all = append(all, sec.forms...)
	}
	return trimSecretStart(s, all)
}

// excerpt is the start of a body for an error message, with the secrets hidden in the
// whole body before it is cut (see excerpt).
func (r *Redaction) excerpt(b []byte) string {
	return r.trimStart(excerpt(r.Apply(b).Text, nil))
}

// hideInError hides the secrets in the text an *APIError carries from the answer.
func (r *Redaction) hideInError(err error) {
	var apiErr *APIError
	if r == nil || !errors.As(err, &apiErr) {
		return
	}
	apiErr.ErrorCode, apiErr.ErrorMsg = r.String(apiErr.ErrorCode), r.String(apiErr.ErrorMsg)
	apiErr.Location, apiErr.CommandID = r.String(apiErr.Location), r.String(apiErr.CommandID)
}

// escapedForms lists how value may be written inside a JSON string: as it is, and with
// the escapes JSON encoders commonly use (HTML characters as \u003c, every character beyond
// ASCII as \u escapes in lower or upper case hex, and / as \/).
func escapedForms(value string) []string {
	var forms []string
	addForm := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(value)
	html, _ := json.Marshal(value)
	for _, f := range []string{value, unquote(plain.Bytes()), unquote(html)} {
		ascii := asciiEscaped(f)
		for _, g := range []string{f, ascii, upperHexEscapes(ascii)} {
			addForm(g)
			addForm(strings.ReplaceAll(g, "/", `\/`))
		}
	}
	return forms
}

func unquote(encoded []byte) string {
	s := strings.TrimSpace(string(encoded))
	return strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
}

// asciiEscaped writes every character of s beyond ASCII as a \u escape (a surrogate pair
// beyond the BMP).
func asciiEscaped(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		case c > 0xFFFF:
			c -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(c>>10), 0xDC00+(c&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	return b.String()
}

// upperHexEscapes writes the hex digits of every \u escape in s in upper case.
func upperHexEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+6 <= len(s) && s[i+1] == 'u' {
			b.WriteString(`\u` + strings.ToUpper(s[i+2:i+6]))
			i += 5
			continue
		}
		if s[i] == '\\' && i+1 < len(s) {
			b.WriteString(s[i : i+2]) // Another escape, such as \" or \\, kept whole.
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// stringLeaves returns the string values of a JSON document at any depth (not its object
// keys, which name parameters), or nil when it is not valid JSON.
func stringLeaves(doc json.RawMessage) []string {
	if len(doc) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	// inObject[i] tells whether container i is an object; expectKey whether the next
	// string in it is a key.
	var inObject []bool
	expectKey := false
	var leaves []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return leaves
		}
		if err != nil {
			return nil
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				inObject = append(inObject, v == '{')
				expectKey = v == '{'
				continue
			default:
				inObject = inObject[:len(inObject)-1]
			}
		case string:
			if expectKey {
				expectKey = false
				continue
			}
			leaves = append(leaves, v)
		}
		// A value ended: in an object, a key comes next.
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

// redactionKey carries the Redaction of a request in its context, for the logging transport.
type redactionKey struct{}

// withRedaction makes the logging transport hide r's values in what it logs of the answer.
func withRedaction(ctx context.Context, r *Redaction) context.Context {
	return context.WithValue(ctx, redactionKey{}, r)
}

// redactionFrom returns the Redaction of a request, or one that hides secrets.
func redactionFrom(ctx context.Context, secrets []string) *Redaction {
	if r, ok := ctx.Value(redactionKey{}).(*Redaction); ok && r != nil {
		return r
	}
	return credentialsRedaction(secrets)
}

// values lists every value r hides, in every form, for log masks.
func (r *Redaction) values() []string {
	if r == nil {
		return nil
	}
	var all []string
	for _, sec := range r.secrets {
		all = append(all, sec.forms...)
	}
	return all
}

// hidesWriteOnly tells whether r hides values of write-only parameters.
func (r *Redaction) hidesWriteOnly() bool {
	return r != nil && slices.ContainsFunc(r.secrets, func(s secret) bool { return s.attribute == AttrParasWO })
}
