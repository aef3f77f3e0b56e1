package signer

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAuthorization_RoundTrip(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	cases := []Authorization{
		{Algorithm: AlgorithmSDK, AccessKey: "AK1", SignedHeaders: []string{"x-sdk-date"}, Signature: sig},
		{Algorithm: AlgorithmSDK, AccessKey: "AK", SignedHeaders: []string{"instance-id", "user-agent", "x-sdk-date"}, Signature: sig},
		{Algorithm: AlgorithmV11, AccessKey: "AK", Date: "20260902", Region: "cn-north-4", Service: "iotdm",
			SignedHeaders: []string{"x-project-id", "x-sdk-date"}, Signature: sig},
	}
	for _, want := range cases {
		got, err := ParseAuthorization(want.String())
		if err != nil {
			t.Fatalf("%s: %v", want.String(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
		}
	}
	// Upper-case hex is accepted and normalised; extra spaces around fields are tolerated.
	got, err := ParseAuthorization("  SDK-HMAC-SHA256 Access=AK,SignedHeaders=x-sdk-date ,  Signature=" + strings.ToUpper(sig))
	if err != nil || got.Signature != sig || got.AccessKey != "AK" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestParseAuthorization_Malformed(t *testing.T) {
	sig := strings.Repeat("0", 64)
	bad := []string{
		"",
		" ",
		"SDK-HMAC-SHA256",
		"Bearer abc",
		"SDK-HMAC-SHA256 ",
		"SDK-HMAC-SHA256 Access=, SignedHeaders=x-sdk-date, Signature=" + sig,
		"SDK-HMAC-SHA256 SignedHeaders=x-sdk-date, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date;;a, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=X-Sdk-Date, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date",
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=abc",
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + strings.Repeat("g", 64),
		"SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK, Foo=1, SignedHeaders=x-sdk-date, Signature=" + sig,
		"SDK-HMAC-SHA256 Access=AK,, SignedHeaders=x-sdk-date, Signature=" + sig,
		"V11-HMAC-SHA256 Credential=AK/20260902/cn-north-4, SignedHeaders=x-sdk-date, Signature=" + sig,
		"V11-HMAC-SHA256 Credential=AK/2026-09-02/cn-north-4/iotdm, SignedHeaders=x-sdk-date, Signature=" + sig,
		"V11-HMAC-SHA256 Credential=AK/20261340/cn-north-4/iotdm, SignedHeaders=x-sdk-date, Signature=" + sig,
		"V11-HMAC-SHA256 Credential=/20260902/cn-north-4/iotdm, SignedHeaders=x-sdk-date, Signature=" + sig,
		"V11-HMAC-SHA256 Credential=AK/20260902//iotdm, SignedHeaders=x-sdk-date, Signature=" + sig,
		"V11-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + sig,
	}
	for _, v := range bad {
		if a, err := ParseAuthorization(v); err == nil {
			t.Errorf("ParseAuthorization(%q) = %+v, want error", v, a)
		} else if strings.Contains(err.Error(), sig) {
			t.Errorf("error echoes the header: %v", err)
		}
	}
}

// FuzzParseAuthorization checks that no input panics and that accepted values re-render stably.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=" + strings.Repeat("a", 64))
	f.Add("V11-HMAC-SHA256 Credential=A/K/20260902/r/s, SignedHeaders=a;b, Signature=" + strings.Repeat("F", 64))
	f.Fuzz(func(t *testing.T, v string) {
		a, err := ParseAuthorization(v)
		if err != nil {
			return
		}
		b, err := ParseAuthorization(a.String())
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("re-parse of %q: %+v vs %+v (%v)", v, a, b, err)
		}
	})
}
