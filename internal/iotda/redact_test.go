package iotda

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

// woPSK is a write-only value with characters JSON encoders escape in different ways; it
// needs no escape in a JSON string.
const woPSK = "psk/SECRET<é😀>"

func TestStringLeaves(t *testing.T) {
	t.Parallel()
	got := stringLeaves([]byte(`{"psk":"a","k":{"deep":["b",1,true,null,{"x":"c"}],"n":2},"s":"d","":"e"}`))
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("stringLeaves = %q, want %q (values only, not keys)", got, want)
	}
	if got := stringLeaves([]byte(`{"a":`)); got != nil {
		t.Errorf("stringLeaves of invalid JSON = %q", got)
	}
}

// Every way a device may write an echoed value in JSON is found, in keys and values, at
// any depth; the rest of the reply is kept byte for byte.
func TestRedaction_JSON(t *testing.T) {
	t.Parallel()
	c := &Client{authToken: testToken}
	r := c.Redaction([]byte(`{"psk":"` + woPSK + `","mode":"ON","n":1234,"pin":"0042"}`))
	echoes := []string{
		woPSK,
		`psk\/SECRET\u003cé😀\u003e`,                 // encoding/json's HTML escapes, / escaped
		`psk/SECRET<\u00e9\ud83d\ude00>`,            // every character beyond ASCII escaped
		`psk/SECRET<\u00E9\uD83D\uDE00>`,            // in upper case hex
		`\u0070sk/SECRET<é😀>`,                       // an ASCII letter escaped
		"got " + woPSK + " and " + woPSK + " again", // twice inside a longer string
	}
	for _, echo := range echoes {
		text := `{"result_code":0, "paras":{"echo":"` + echo + `","k":["` + echo + `"],"` + echo + `":1,"mode":"ON","v":1234}}`
		got := r.Apply([]byte(text))
		s := string(got.Text)
		if strings.Contains(s, "SECRET") || !strings.Contains(s, `"mode":"ON","v":1234}}`) ||
			!strings.HasPrefix(s, `{"result_code":0, "paras":{"echo":"`) {
			t.Errorf("Apply(%s) = %s", text, s)
		}
		if !slices.Equal(got.Attributes, []string{AttrParasWO}) {
			t.Errorf("Apply(%s) names %v, want paras_wo", text, got.Attributes)
		}
		// "0042" has four characters: hidden; "ON" is too short and counted.
		if got.ShortEchoes != 1 {
			t.Errorf("Apply(%s) counts %d short echoes, want 1 (mode)", text, got.ShortEchoes)
		}
	}
	got := r.Apply([]byte(`{"pin":"0042","token":"Bearer ` + testToken + `"}`))
	if string(got.Text) != `{"pin":"***","token":"Bearer ***"}` ||
		!slices.Equal(got.Attributes, []string{AttrParasWO, AttrAuthToken}) {
		t.Errorf("Apply = %s naming %v", got.Text, got.Attributes)
	}
	// Nothing to hide: the very same bytes.
	text := []byte(`{ "a" : "\u00e9" }`)
	if got := r.Apply(text); !bytes.Equal(got.Text, text) || got.Attributes != nil || got.ShortEchoes != 0 {
		t.Errorf("Apply of a reply without secrets = %s, %v, %d", got.Text, got.Attributes, got.ShortEchoes)
	}
}

// Text that is not JSON as a whole (a cut body, a message) has each value hidden as written
// and in its usual escaped forms.
func TestRedaction_Text(t *testing.T) {
	t.Parallel()
	r := (&Client{}).Redaction([]byte(`{"psk":"` + woPSK + `"}`))
	for _, form := range []string{woPSK, `psk\/SECRET\u003cé😀\u003e`, `psk/SECRET<\u00e9\ud83d\ude00>`, `psk\/SECRET\u003C\u00E9\uD83D\uDE00\u003E`} {
		got := r.Apply([]byte(`not json: ` + form + ` {"cut":"` + form))
		if strings.Contains(string(got.Text), "SECRET") || !slices.Equal(got.Attributes, []string{AttrParasWO}) {
			t.Errorf("Apply of text with %s = %s naming %v", form, got.Text, got.Attributes)
		}
	}
	// The start of a value at the end of a cut text is dropped.
	if got := r.trimStart("a log cut at psk/SEC"); got != "a log cut at " {
		t.Errorf("trimStart = %q", got)
	}
	var none *Redaction
	if got := none.Apply([]byte("x")); string(got.Text) != "x" {
		t.Errorf("nil Redaction changed the text: %s", got.Text)
	}
}

// CreateCommand with write-only parameters hides them in the reply it returns, in the
// errors built from the answer, and in the DEBUG log of the exchange, also when the echo
// sits beyond the part of a long body that is logged or where the log cuts it.
func TestCreateCommand_RedactsWriteOnlyEchoes(t *testing.T) {
	t.Parallel()
	escaped := `\u0070sk\/SECRET\u003c\u00e9\ud83d\ude00\u003e`
	padding := strings.Repeat("x", maxLoggedBody)
	answers := map[string]struct {
		status int
		body   string
		check  func(t *testing.T, res *CommandResult, err error)
	}{
		"reply": {200, `{"command_id":"c1","response":{"paras":{"psk":"` + escaped + `","pad":"` + padding + `","again":"` + woPSK + `"}}}`,
			func(t *testing.T, res *CommandResult, err error) {
				if err != nil || res == nil {
					t.Fatalf("CreateCommand: %v", err)
				}
				if strings.Contains(string(res.Response), "SECRET") || !strings.Contains(string(res.Response), `"psk":"***"`) ||
					!slices.Equal(res.Redacted.Attributes, []string{AttrParasWO}) {
					t.Errorf("Response %.200s, redacted %v", res.Response, res.Redacted.Attributes)
				}
			}},
		"cut in the log": {200, `{"command_id":"c1","response":{"pad":"` + padding[:maxLoggedBody-30] + `","psk":"` + woPSK + `"}}`,
			func(t *testing.T, res *CommandResult, err error) {
				if err != nil || strings.Contains(string(res.Response), "SECRET") {
					t.Errorf("Response %.100s, %v", res.Response, err)
				}
			}},
		"platform error": {400, `{"error_code":"IOTDA.000006","error_msg":"invalid paras psk=` + escaped + `"}`,
			func(t *testing.T, _ *CommandResult, err error) {
				var apiErr *APIError
				if !errors.As(err, &apiErr) || strings.Contains(err.Error(), "SECRET") || !strings.Contains(apiErr.ErrorMsg, "psk=***") {
					t.Errorf("error %v", err)
				}
			}},
		"answer that is not JSON": {200, `oops ` + woPSK,
			func(t *testing.T, _ *CommandResult, err error) {
				var unknown *DeliveryUnknownError
				if !errors.As(err, &unknown) || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "oops ***") {
					t.Errorf("error %v", err)
				}
			}},
		"timeout message": {200, `{"command_id":"c1","error_code":"IOTDA.014111","error_msg":"no answer to ` + woPSK + `"}`,
			func(t *testing.T, res *CommandResult, err error) {
				if !errors.Is(err, ErrDeviceTimeout) || strings.Contains(err.Error(), "SECRET") || strings.Contains(res.ErrorMsg, "SECRET") {
					t.Errorf("result %+v, error %v", res, err)
				}
			}},
	}
	for name, a := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, reply(a.status, a.body))
			var buf bytes.Buffer
			ctx := tflogtest.RootLogger(t.Context(), &buf)
			cmd := simpleCommand
			cmd.Paras, cmd.SecretParas = []byte(`{"psk":"`+woPSK+`"}`), true
			res, err := newTestClient(t, ts.URL, nil).CreateCommand(ctx, cmd)
			a.check(t, res, err)
			log := buf.String()
			for _, part := range []string{"SECRET", `\u003c\u00e9`} {
				if strings.Contains(log, part) {
					t.Errorf("the log holds %q:\n%.3000s", part, log)
				}
			}
			if !strings.Contains(log, "Received IoTDA API response") {
				t.Errorf("the answer was not logged:\n%.500s", log)
			}
		})
	}
}

// Without write-only parameters the reply is kept as it came, but for the credentials.
func TestCreateCommand_KeepsPlainEchoes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c1","response":{"psk":"`+woPSK+`","mode":"ON"}}`))
	cmd := simpleCommand
	cmd.Paras = []byte(`{"psk":"` + woPSK + `","mode":"ON"}`)
	res, err := newTestClient(t, ts.URL, nil).CreateCommand(t.Context(), cmd)
	if err != nil || string(res.Response) != `{"psk":"`+woPSK+`","mode":"ON"}` || res.Redacted.Attributes != nil {
		t.Errorf("result %s %v, %v", res.Response, res.Redacted, err)
	}
}
