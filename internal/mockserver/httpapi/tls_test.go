package httpapi

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestGenerateCertificates_CAShape(t *testing.T) {
	now := time.Now()
	_, caPEM, err := generateCertificates(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(caPEM))
	if block == nil {
		t.Fatal("no PEM block")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.ECDSA || !ca.NotBefore.Before(now) || !ca.NotAfter.After(now) {
		t.Errorf("CA: IsCA %v, key %v, valid %s to %s", ca.IsCA, ca.PublicKeyAlgorithm, ca.NotBefore, ca.NotAfter)
	}
	if st, err := NewTLS(TLSOptions{}); err != nil || st.CAPEM != "" || st.HTTP != nil || st.MQTT != nil {
		t.Errorf("plain HTTP and MQTT have TLS material: %+v, %v", st, err)
	}
	st, err := NewTLS(TLSOptions{MQTTS: true})
	if err != nil || st.HTTP != nil || st.MQTT == nil || st.CAPEM == "" || len(st.MQTT.NextProtos) != 0 {
		t.Errorf("MQTTS alone: %+v, %v; want a generated CA for the MQTT listener only", st, err)
	}
}
