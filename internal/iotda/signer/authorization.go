package signer

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Authorization is a parsed Authorization header of either algorithm.
type Authorization struct {
	Algorithm             string
	AccessKey             string
	Date, Region, Service string   // V11 credential scope: yyyyMMdd, region, service; empty for SDK
	SignedHeaders         []string // lowercase, in header order
	Signature             string   // lowercase hex
}

// String renders the Authorization header value in the SDK's exact format.
func (a Authorization) String() string {
	cred := "Access=" + a.AccessKey
	if a.Algorithm == AlgorithmV11 {
		cred = "Credential=" + a.AccessKey + "/" + a.Date + "/" + a.Region + "/" + a.Service
	}
	return a.Algorithm + " " + cred + ", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

// ParseAuthorization parses "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex" and
// "V11-HMAC-SHA256 Credential=AK/yyyyMMdd/region/service, SignedHeaders=a;b, Signature=hex".
// Errors never echo the header value, which is credential material.
func ParseAuthorization(value string) (Authorization, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok {
		return Authorization{}, errors.New("signer: malformed Authorization header")
	}
	if alg != AlgorithmSDK && alg != AlgorithmV11 {
		return Authorization{}, errors.New("signer: unsupported Authorization algorithm")
	}
	fields, err := parseFields(rest)
	if err != nil {
		return Authorization{}, err
	}
	a := Authorization{Algorithm: alg}
	if alg == AlgorithmSDK {
		a.AccessKey = fields["Access"]
		if a.AccessKey == "" {
			return Authorization{}, errors.New("signer: Authorization lacks Access")
		}
	} else if err := parseCredential(&a, fields["Credential"]); err != nil {
		return Authorization{}, err
	}
	if a.SignedHeaders, err = parseSignedHeaders(fields["SignedHeaders"]); err != nil {
		return Authorization{}, err
	}
	if a.Signature, err = parseSignature(fields["Signature"]); err != nil {
		return Authorization{}, err
	}
	return a, nil
}

// parseFields splits "k=v, k=v" into a map, rejecting unknown or repeated keys.
func parseFields(rest string) (map[string]string, error) {
	fields := make(map[string]string, 3)
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, errors.New("signer: malformed Authorization field")
		}
		switch k {
		case "Access", "Credential", "SignedHeaders", "Signature":
		default:
			return nil, errors.New("signer: unknown Authorization field")
		}
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("signer: repeated Authorization field %s", k)
		}
		fields[k] = v
	}
	return fields, nil
}

// parseCredential reads AK/yyyyMMdd/region/service; the access key is everything before the last three parts.
func parseCredential(a *Authorization, cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) < 4 {
		return errors.New("signer: Authorization Credential must be AK/date/region/service")
	}
	n := len(parts)
	a.AccessKey = strings.Join(parts[:n-3], "/")
	a.Date, a.Region, a.Service = parts[n-3], parts[n-2], parts[n-1]
	if a.AccessKey == "" || a.Region == "" || a.Service == "" {
		return errors.New("signer: Authorization Credential has an empty part")
	}
	if _, err := time.Parse(scopeDateLayout, a.Date); err != nil || len(a.Date) != len(scopeDateLayout) {
		return errors.New("signer: Authorization Credential date must be yyyyMMdd")
	}
	return nil
}

func parseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, errors.New("signer: Authorization lacks SignedHeaders")
	}
	names := strings.Split(v, ";")
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, " \t:") {
			return nil, errors.New("signer: malformed SignedHeaders entry")
		}
	}
	return names, nil
}

func parseSignature(v string) (string, error) {
	if len(v) != 64 {
		return "", errors.New("signer: Authorization Signature must be 64 hex digits")
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "", errors.New("signer: Authorization Signature must be 64 hex digits")
	}
	return strings.ToLower(v), nil
}
