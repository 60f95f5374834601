package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TLSFixture is a throwaway certificate authority with a server certificate
// (for localhost, 127.0.0.1 and ::1) and a client certificate, both signed by
// it, for TLS tests.
type TLSFixture struct {
	CAPEM          []byte
	Pool           *x509.CertPool // holds the CA
	Server, Client tls.Certificate
	ServerCertPEM  []byte
	ServerKeyPEM   []byte
	ClientCertPEM  []byte
	ClientKeyPEM   []byte
	caCert         *x509.Certificate
	caKey          *ecdsa.PrivateKey
}

var (
	fixtureOnce sync.Once
	fixture     *TLSFixture
	fixtureErr  error
)

// TLS returns the process's TLS fixture, made on first use (ECDSA P-256 keys,
// valid from an hour ago for a day).
func TLS(t testing.TB) *TLSFixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = newTLSFixture() })
	if fixtureErr != nil {
		t.Fatalf("TLS fixture: %v", fixtureErr)
	}
	return fixture
}

func newTLSFixture() (*TLSFixture, error) {
	f := &TLSFixture{}
	var err error
	if f.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sycamore test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &f.caKey.PublicKey, f.caKey)
	if err != nil {
		return nil, err
	}
	if f.caCert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	f.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	f.Pool = x509.NewCertPool()
	f.Pool.AddCert(f.caCert)
	if f.Server, f.ServerCertPEM, f.ServerKeyPEM, err = f.leaf(2, "localhost", x509.ExtKeyUsageServerAuth); err != nil {
		return nil, err
	}
	if f.Client, f.ClientCertPEM, f.ClientKeyPEM, err = f.leaf(3, "sycamore test client", x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	return f, nil
}

// Leaf makes another certificate signed by the CA for name (a server
// certificate for SNI tests, say).
func (f *TLSFixture) Leaf(t testing.TB, serial int64, name string) tls.Certificate {
	t.Helper()
	cert, _, _, err := f.leaf(serial, name, x509.ExtKeyUsageServerAuth)
	if err != nil {
		t.Fatalf("Leaf: %v", err)
	}
	return cert
}

func (f *TLSFixture) leaf(serial int64, name string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     []string{name},
	}
	if usage == x509.ExtKeyUsageServerAuth && name == "localhost" {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.caCert, &key.PublicKey, f.caKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, keyPEM, err
}

// ServerConfig is a server configuration with the server certificate.
func (f *TLSFixture) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{f.Server}}
}

// ClientConfig is a client configuration that trusts the CA, for server name
// localhost.
func (f *TLSFixture) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: f.Pool, ServerName: "localhost"}
}

// WriteFiles writes the CA, the server certificate and its key as PEM files in
// dir and returns their paths.
func (f *TLSFixture) WriteFiles(t testing.TB, dir string) (ca, cert, key string) {
	t.Helper()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string][]byte{ca: f.CAPEM, cert: f.ServerCertPEM, key: f.ServerKeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatalf("WriteFiles: %v", err)
		}
	}
	return ca, cert, key
}
