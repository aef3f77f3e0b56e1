// Package signer implements Huawei Cloud AK/SK request signing (SDK-HMAC-SHA256 and the derived
// V11-HMAC-SHA256) byte-for-byte as huaweicloud-sdk-go-v3 does, and the matching verification
// helpers used by the IoTDA mock server.
package signer

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
)

const (
	// AlgorithmSDK is the standard signing algorithm.
	AlgorithmSDK = "SDK-HMAC-SHA256"
	// AlgorithmV11 is the derived signing algorithm (HKDF-derived key scoped to date/region/service).
	AlgorithmV11 = "V11-HMAC-SHA256"
	// HeaderDate carries the signing time in DateLayout, UTC.
	HeaderDate = "X-Sdk-Date"
	// DateLayout is the Go time layout of HeaderDate.
	DateLayout = "20060102T150405Z"
	// HeaderContentSha256 overrides the body hash in the canonical request when present.
	HeaderContentSha256 = "X-Sdk-Content-Sha256"

	headerAuthorization = "Authorization"
	headerContentType   = "Content-Type"
	scopeDateLayout     = "20060102"
	unsignedPayload     = "UNSIGNED-PAYLOAD"
)

// Signer signs requests the way huaweicloud-sdk-go-v3 does.
type Signer struct {
	AccessKey, SecretKey string
	Algorithm            string // AlgorithmSDK (default when empty) or AlgorithmV11
	Region               string // V11 only: the region in the credential scope
	Service              string // V11 only: the derived auth service name; IoTDA uses "iotdm"
}

// Sign sets X-Sdk-Date (from now, UTC) and Authorization on req. body is the exact body bytes
// that will be sent (nil or empty for none). Signed headers are every header of req, lowercased and sorted,
// except names starting with "content-type" and names containing "_" (as the SDK does). Host is not signed
// unless req.Header has "Host" explicitly.
//
// Like the SDK, a Content-Type that is neither JSON nor BSON makes Sign add
// "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD", so such bodies are not covered by the signature.
func (s Signer) Sign(req *http.Request, body []byte, now time.Time) error {
	if req == nil || req.URL == nil {
		return errors.New("signer: request or its URL is nil")
	}
	if s.AccessKey == "" {
		return errors.New("signer: access key is required")
	}
	if s.SecretKey == "" {
		return errors.New("signer: secret key is required")
	}
	alg := s.Algorithm
	if alg == "" {
		alg = AlgorithmSDK
	}
	now = now.UTC()
	auth := Authorization{Algorithm: alg, AccessKey: s.AccessKey}
	switch alg {
	case AlgorithmSDK:
	case AlgorithmV11:
		if s.Region == "" {
			return errors.New("signer: region is required for " + AlgorithmV11)
		}
		if s.Service == "" {
			return errors.New("signer: service name is required for " + AlgorithmV11)
		}
		auth.Date, auth.Region, auth.Service = now.Format(scopeDateLayout), s.Region, s.Service
	default:
		return fmt.Errorf("signer: unsupported algorithm %q", alg)
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	if _, ok := req.Header[headerContentType]; ok && !isJSONOrBSON(req.Header.Get(headerContentType)) {
		req.Header.Set(HeaderContentSha256, unsignedPayload)
	}
	req.Header.Set(HeaderDate, now.Format(DateLayout))
	auth.SignedHeaders = signedHeaderNames(req.Header)
	sig, err := ComputeSignature(auth, s.SecretKey, req, body)
	if err != nil {
		return err
	}
	auth.Signature = sig
	req.Header.Set(headerAuthorization, auth.String())
	return nil
}

// ComputeSignature recomputes the signature of req over exactly auth.SignedHeaders (a signed "host" header is
// read from req.Host when absent from req.Header), using req's X-Sdk-Date header, the given body bytes, and for
// V11 the scope in auth (key = hex(HKDF-SHA256(IKM=secretKey, salt=auth.AccessKey, info=date/region/service, 32))).
// It returns the lowercase hex signature. Callers compare it with auth.Signature using hmac.Equal.
//
// For V11 the scope date must be the UTC day of X-Sdk-Date, as the SDK always produces it.
func ComputeSignature(auth Authorization, secretKey string, req *http.Request, body []byte) (string, error) {
	if req == nil || req.URL == nil {
		return "", errors.New("signer: request or its URL is nil")
	}
	if secretKey == "" {
		return "", errors.New("signer: secret key is required")
	}
	t, err := time.Parse(DateLayout, req.Header.Get(HeaderDate))
	if err != nil {
		return "", fmt.Errorf("signer: missing or malformed %s header", HeaderDate)
	}
	stamp := t.UTC().Format(DateLayout)
	hash := sha256.Sum256([]byte(canonicalRequest(req, auth.SignedHeaders, body)))
	crHash := hex.EncodeToString(hash[:])

	switch auth.Algorithm {
	case AlgorithmSDK:
		return hmacHex([]byte(secretKey), auth.Algorithm+"\n"+stamp+"\n"+crHash), nil
	case AlgorithmV11:
		if auth.Date == "" || auth.Region == "" || auth.Service == "" {
			return "", errors.New("signer: incomplete credential scope for " + AlgorithmV11)
		}
		if auth.Date != t.UTC().Format(scopeDateLayout) {
			return "", fmt.Errorf("signer: credential scope date does not match %s", HeaderDate)
		}
		info := auth.Date + "/" + auth.Region + "/" + auth.Service
		key, err := hkdf.Key(sha256.New, []byte(secretKey), []byte(auth.AccessKey), info, 32)
		if err != nil {
			return "", fmt.Errorf("signer: deriving key: %w", err)
		}
		// The SDK uses the hex text of the derived key, not its raw bytes, as the HMAC key.
		derived := []byte(hex.EncodeToString(key))
		return hmacHex(derived, auth.Algorithm+"\n"+stamp+"\n"+info+"\n"+crHash), nil
	default:
		return "", fmt.Errorf("signer: unsupported algorithm %q", auth.Algorithm)
	}
}

func hmacHex(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	_, _ = m.Write([]byte(msg)) // hash.Hash.Write never returns an error.
	return hex.EncodeToString(m.Sum(nil))
}
