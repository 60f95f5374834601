package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Cert is a throwaway self-signed certificate that SelfSignedCert wrote to disk,
// for the TLS servers under test.
type Cert struct {
	CertFile string // PEM certificate
	KeyFile  string // PEM private key (PKCS #8)
	// Pool holds the certificate as its own root, for clients that verify it:
	// it is valid for 127.0.0.1, ::1 and localhost.
	Pool *x509.CertPool
}

// certValidity is how long a throwaway certificate lasts; NotBefore is an hour
// back, so that a clock a little behind still accepts it.
const certValidity = 7 * 24 * time.Hour

// SelfSignedCert makes an ECDSA P-256 key and a self-signed certificate for
// 127.0.0.1, ::1 and localhost (a server certificate that is its own root),
// and writes them as cert.pem and key.pem into dir.
func SelfSignedCert(dir string) (Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Cert{}, fmt.Errorf("harness: cert: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Cert{}, fmt.Errorf("harness: cert: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sycamore bench (throwaway)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own root, so that a client can trust it by itself
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Cert{}, fmt.Errorf("harness: cert: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Cert{}, fmt.Errorf("harness: cert: %w", err)
	}
	c := Cert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(c.CertFile, certPEM, 0o644); err != nil {
		return Cert{}, fmt.Errorf("harness: cert: %w", err)
	}
	if err := os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return Cert{}, fmt.Errorf("harness: cert: %w", err)
	}
	c.Pool = x509.NewCertPool()
	c.Pool.AppendCertsFromPEM(certPEM)
	return c, nil
}

// ClientConfig returns a TLS client configuration that trusts only c, with
// ALPN offering alpn (none when empty). It has no session cache: every conn
// made with it does a full handshake.
func (c Cert) ClientConfig(alpn ...string) *tls.Config {
	return &tls.Config{RootCAs: c.Pool, ServerName: "127.0.0.1", NextProtos: alpn}
}
