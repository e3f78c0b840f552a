package cluster_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network/cluster"
)

// writeCert writes a certificate and its key as PEM files signed by
// parent (self-signed when parent is nil) and returns them with the paths.
func writeCert(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	require.NoError(t, os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return cert, key, cp, kp
}

// TestTLSAndAuthPassedThrough: an embedded server with TLS, client
// certificates and a user accepts a client with the CA, its certificate
// and the password, and refuses one without the certificate or with a
// wrong password.
func TestTLSAndAuthPassedThrough(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, caKey, caPath, _ := writeCert(t, dir, "ca", &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "saxs test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, nil, nil)
	_, _, srvCert, srvKey := writeCert(t, dir, "server", &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, caKey)
	_, _, cliCert, cliKey := writeCert(t, dir, "client", &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "worker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, caKey)

	emb, err := cluster.Embed(t.Context(), cluster.EmbedOptions{Addr: "127.0.0.1:0", StateDir: t.TempDir(),
		User: "saxs", Password: "pw", TLSCA: caPath, TLSCert: srvCert, TLSKey: srvKey})
	require.NoError(t, err)
	t.Cleanup(emb.Shutdown)
	url := emb.ClientURL()

	nc, err := cluster.Connect(cluster.ConnectOptions{URL: url, User: "saxs", Password: "pw", TLSCA: caPath, TLSCert: cliCert, TLSKey: cliKey})
	require.NoError(t, err)
	assert.True(t, nc.TLSRequired())
	_, err = cluster.NewHead(t.Context(), nc, cluster.Settings{}, nil)
	assert.NoError(t, err, "JetStream over TLS")
	nc.Close()

	_, err = cluster.Connect(cluster.ConnectOptions{URL: url, User: "saxs", Password: "pw", TLSCA: caPath})
	assert.Error(t, err, "no client certificate")
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url, User: "saxs", Password: "wrong", TLSCA: caPath, TLSCert: cliCert, TLSKey: cliKey})
	assert.Error(t, err, "a wrong password")
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url, User: "saxs", Password: "pw", TLSCert: cliCert})
	assert.Error(t, err, "a certificate without its key")

	in, err := cluster.Connect(cluster.ConnectOptions{InProcess: emb, User: "saxs", Password: "pw"})
	require.NoError(t, err, "the head's own in-process connection needs no certificate")
	in.Close()
}
